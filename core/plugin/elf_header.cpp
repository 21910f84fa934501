#include "core/plugin/elf_header.hpp"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

#include "plugins/common/text_util.hpp"
#include "sluice/sdk/plugin.hpp"

namespace sluice::core {

namespace {

constexpr char kOldSymbol[] = "sluice_plugin_v1";

#if defined(__x86_64__)
constexpr uint16_t kMachine = EM_X86_64;
#elif defined(__aarch64__)
constexpr uint16_t kMachine = EM_AARCH64;
#else
constexpr uint16_t kMachine = EM_NONE;  // not checked; dlopen refuses a foreign library
#endif

// A read-only view of the file with bounds-checked reads: a corrupt header makes a read fail
// instead of running off the end.
class ElfFile {
 public:
  explicit ElfFile(const std::filesystem::path& p) : fd_(::open(p.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ >= 0) size_ = ::lseek(fd_, 0, SEEK_END);
  }
  ~ElfFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  bool isOpen() const { return fd_ >= 0 && size_ >= 0; }
  bool read(uint64_t offset, void* out, uint64_t n) const {
    if (offset > static_cast<uint64_t>(size_) || n > static_cast<uint64_t>(size_) - offset)
      return false;
    auto* p = static_cast<char*>(out);
    while (n > 0) {
      ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      p += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
    return true;
  }
  template <class T>
  bool readArray(uint64_t offset, uint64_t count, std::vector<T>& out) const {
    const uint64_t limit = static_cast<uint64_t>(size_) / sizeof(T);
    if (count > limit) return false;
    out.resize(count);
    return read(offset, out.data(), count * sizeof(T));
  }

 private:
  int fd_;
  off_t size_ = -1;
};

// The NUL-terminated string at `offset` in a string table.
std::string stringAt(const std::vector<char>& table, uint64_t offset) {
  if (offset >= table.size()) return {};
  const char* s = table.data() + offset;
  return std::string(s, strnlen(s, table.size() - offset));
}

}  // namespace

bool readPluginDescriptor(const std::filesystem::path& path, PluginDescriptor& out,
                          std::string& error) {
  out = PluginDescriptor{};
  ElfFile f(path);
  if (!f.isOpen()) {
    error = "cannot read file: " + plugins::text::errnoText(errno);
    return false;
  }
  Elf64_Ehdr eh{};
  if (!f.read(0, &eh, sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
    error = "not an ELF shared object";
    return false;
  }
  const bool little = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != (little ? ELFDATA2LSB : ELFDATA2MSB) ||
      (kMachine != EM_NONE && eh.e_machine != kMachine)) {
    error = "an ELF file for another machine (class " + std::to_string(eh.e_ident[EI_CLASS]) +
            ", machine " + std::to_string(eh.e_machine) + ")";
    return false;
  }
  if (eh.e_type != ET_DYN) {
    error = "not a shared object (ELF type " + std::to_string(eh.e_type) + ")";
    return false;
  }
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff == 0) {
    error = "ELF section headers missing or malformed";
    return false;
  }
  // Extended numbering: with many sections the counts live in section 0.
  Elf64_Shdr first{};
  if (!f.read(eh.e_shoff, &first, sizeof first)) {
    error = "ELF section headers truncated";
    return false;
  }
  const uint64_t shnum = eh.e_shnum != 0 ? eh.e_shnum : first.sh_size;
  const uint64_t shstrndx = eh.e_shstrndx != SHN_XINDEX ? eh.e_shstrndx : first.sh_link;
  std::vector<Elf64_Shdr> sections;
  if (!f.readArray(eh.e_shoff, shnum, sections) || shstrndx >= sections.size()) {
    error = "ELF section headers truncated";
    return false;
  }
  std::vector<char> names;
  const Elf64_Shdr& namesHdr = sections[shstrndx];
  if (!f.readArray(namesHdr.sh_offset, namesHdr.sh_size, names)) {
    error = "ELF section names truncated";
    return false;
  }

  uint64_t descriptorSection = 0, typesSection = 0;  // 0: none (never a real section)
  for (uint64_t i = 1; i < sections.size(); ++i) {
    const std::string name = stringAt(names, sections[i].sh_name);
    if (name == SLUICE_PLUGIN_SECTION) descriptorSection = i;
    if (name == SLUICE_PLUGIN_TYPES_SECTION) typesSection = i;
  }

  // Where a symbol's bytes are in the file: false when it is not inside its section.
  auto locate = [&](const Elf64_Sym& sym, uint64_t section, uint64_t& offset) {
    if (section == 0 || sym.st_shndx != section) return false;
    const Elf64_Shdr& sec = sections[section];
    if (sec.sh_type != SHT_PROGBITS || sym.st_value < sec.sh_addr ||
        sym.st_value - sec.sh_addr > sec.sh_size ||
        sec.sh_size - (sym.st_value - sec.sh_addr) < sym.st_size)
      return false;
    offset = sec.sh_offset + (sym.st_value - sec.sh_addr);
    return true;
  };

  // The dynamic symbol table is what dlsym sees: look the descriptor up there.
  for (const Elf64_Shdr& symtab : sections) {
    if (symtab.sh_type != SHT_DYNSYM || symtab.sh_entsize != sizeof(Elf64_Sym)) continue;
    if (symtab.sh_link >= sections.size()) continue;
    std::vector<char> strtab;
    std::vector<Elf64_Sym> syms;
    const Elf64_Shdr& strHdr = sections[symtab.sh_link];
    if (!f.readArray(strHdr.sh_offset, strHdr.sh_size, strtab) ||
        !f.readArray(symtab.sh_offset, symtab.sh_size / sizeof(Elf64_Sym), syms)) {
      error = "ELF symbol table truncated";
      return false;
    }
    for (const Elf64_Sym& sym : syms) {
      if (sym.st_shndx == SHN_UNDEF) continue;
      const std::string name = stringAt(strtab, sym.st_name);
      if (name == kOldSymbol && out.kind == PluginDescriptor::Kind::None)
        out.kind = PluginDescriptor::Kind::OldLayout;
      if (name == SLUICE_PLUGIN_TYPES_SYMBOL) {
        uint64_t at = 0;
        if (sym.st_size == 0 || sym.st_size > kMaxPluginTypesBytes ||
            !locate(sym, typesSection, at)) {
          error = SLUICE_PLUGIN_TYPES_SYMBOL
              " is malformed or not in the '" SLUICE_PLUGIN_TYPES_SECTION "' section";
          return false;
        }
        std::vector<char> bytes;
        if (!f.readArray(at, sym.st_size, bytes)) {
          error = SLUICE_PLUGIN_TYPES_SYMBOL " is truncated";
          return false;
        }
        out.types.assign(bytes.data(), strnlen(bytes.data(), bytes.size()));
        out.hasTypes = true;
        continue;
      }
      if (name != SLUICE_PLUGIN_SYMBOL) continue;
      // The record's plain-data head: magic, major, minor, reserved, toolchain tag.
      constexpr uint64_t kHead = offsetof(sdk::PluginHeader, toolchain) + sdk::kToolchainTagSize;
      uint64_t at = 0;
      if (descriptorSection == 0 || sym.st_shndx != descriptorSection) {
        error = SLUICE_PLUGIN_SYMBOL " is not in the '" SLUICE_PLUGIN_SECTION "' section";
        return false;
      }
      if (sym.st_size < kHead || !locate(sym, descriptorSection, at)) {
        error = SLUICE_PLUGIN_SYMBOL " descriptor is malformed";
        return false;
      }
      char head[kHead];
      if (!f.read(at, head, kHead)) {
        error = SLUICE_PLUGIN_SYMBOL " descriptor is truncated";
        return false;
      }
      std::memcpy(&out.magic, head + offsetof(sdk::PluginHeader, magic), sizeof out.magic);
      std::memcpy(&out.abiMajor, head + offsetof(sdk::PluginHeader, abiMajor), sizeof out.abiMajor);
      std::memcpy(&out.abiMinor, head + offsetof(sdk::PluginHeader, abiMinor), sizeof out.abiMinor);
      const char* tag = head + offsetof(sdk::PluginHeader, toolchain);
      out.toolchain.assign(tag, strnlen(tag, sdk::kToolchainTagSize));
      out.kind = PluginDescriptor::Kind::Current;
    }
  }
  // A type list means nothing without a current descriptor.
  if (out.kind != PluginDescriptor::Kind::Current) {
    out.hasTypes = false;
    out.types.clear();
  }
  return true;
}

}  // namespace sluice::core
