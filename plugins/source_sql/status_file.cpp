#include "status_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "text.hpp"

namespace sluice::plugins::sql {
namespace {

std::string errnoText(int e) { return std::strerror(e); }

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  StatusRecord object() {
    StatusRecord r;
    space();
    expect('{');
    space();
    if (peek() == '}') {
      ++i_;
    } else {
      for (;;) {
        space();
        std::string key = string();
        space();
        expect(':');
        space();
        r.set(key, value());
        space();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}');
        break;
      }
    }
    space();
    if (i_ != s_.size()) error("unexpected text after the object");
    return r;
  }

 private:
  [[noreturn]] void error(const std::string& what) const {
    throw std::runtime_error(what + " at byte " + std::to_string(i_));
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  void expect(char c) {
    if (peek() != c) error(std::string("expected '") + c + "'");
    ++i_;
  }
  unsigned hex4() {
    if (i_ + 4 > s_.size()) error("truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<unsigned>(c - 'A' + 10);
      else
        error("bad \\u escape");
    }
    return v;
  }
  static void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      if (i_ >= s_.size()) error("unterminated string");
      const char c = s_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) error("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) error("unterminated string");
      switch (s_[i_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
            if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u')
              error("lone surrogate in \\u escape");
            i_ += 2;
            const unsigned lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) error("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          utf8(out, cp);
          break;
        }
        default:
          error("bad escape");
      }
    }
  }
  // A value: strings as such; numbers, true, false as their text; null as "".
  std::string value() {
    if (peek() == '"') return string();
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ' ' && s_[i_] != '\n' &&
           s_[i_] != '\r' && s_[i_] != '\t')
      ++i_;
    const std::string_view v = s_.substr(start, i_ - start);
    if (v == "null") return "";
    if (v == "true" || v == "false") return std::string(v);
    if (v.empty() || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')))
      error("expected a string, number, true, false or null");
    for (char c : v)
      if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
        error("malformed number");
    return std::string(v);
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

void fsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open '" + path + "': " + errnoText(errno));
  const int rc = ::fsync(fd);
  const int e = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("fsync of '" + path + "' failed: " + errnoText(e));
}

}  // namespace

const std::string* StatusRecord::find(std::string_view key) const {
  for (const auto& [k, v] : fields_)
    if (k == key) return &v;
  return nullptr;
}

void StatusRecord::set(std::string_view key, std::string value) {
  for (auto& [k, v] : fields_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  fields_.emplace_back(std::string(key), std::move(value));
}

void StatusRecord::erase(std::string_view key) {
  for (auto it = fields_.begin(); it != fields_.end(); ++it)
    if (it->first == key) {
      fields_.erase(it);
      return;
    }
}

std::string StatusRecord::toJson() const {
  std::string out = "{";
  for (std::size_t i = 0; i < fields_.size(); ++i) {
    if (i) out += ',';
    appendJsonString(out, fields_[i].first);
    out += ':';
    appendJsonString(out, fields_[i].second);
  }
  out += "}";
  return out;
}

StatusRecord StatusRecord::parse(std::string_view json) { return Parser(json).object(); }

StatusFile::StatusFile(std::string directory, const std::string& name)
    : dir_(std::move(directory)),
      path_((std::filesystem::path(dir_) / name).string()),
      tmp_(path_ + ".tmp") {}

void StatusFile::openDirectory() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create the directory '" + dir_ + "': " + ec.message());
  if (::access(dir_.c_str(), W_OK | X_OK) != 0)
    throw std::runtime_error("cannot write into the directory '" + dir_ + "': " + errnoText(errno));
}

std::optional<StatusRecord> StatusFile::read() const {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error("cannot read the status file '" + path_ + "': " + errnoText(errno));
  }
  std::string data;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      throw std::runtime_error("cannot read the status file '" + path_ + "': " + errnoText(e));
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > (1u << 20)) {
      ::close(fd);
      throw std::runtime_error("the status file '" + path_ + "' is larger than 1 MB");
    }
  }
  ::close(fd);
  try {
    return StatusRecord::parse(data);
  } catch (const std::exception& e) {
    throw std::runtime_error("the status file '" + path_ + "' is not valid JSON (" + e.what() +
                             ")");
  }
}

void StatusFile::prepare(const StatusRecord& record) {
  content_ = record.toJson();
  const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot write '" + tmp_ + "': " + errnoText(errno));
  std::size_t done = 0;
  while (done < content_.size()) {
    const ssize_t n = ::write(fd, content_.data() + done, content_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = n < 0 ? errno : EIO;
      ::close(fd);
      throw std::runtime_error("cannot write '" + tmp_ + "': " + errnoText(e));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error("fsync of '" + tmp_ + "' failed: " + errnoText(e));
  }
  ::close(fd);
  prepared_ = true;
}

void StatusFile::commit() {
  if (!prepared_) throw std::logic_error("StatusFile::commit() without prepare()");
  prepared_ = false;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0)
    throw std::runtime_error("cannot rename '" + tmp_ + "' to '" + path_ +
                             "': " + errnoText(errno));
  fsyncPath(dir_, true);
}

}  // namespace sluice::plugins::sql
