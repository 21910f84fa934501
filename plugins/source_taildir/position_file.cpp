#include "position_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "file_util.hpp"
#include "text_util.hpp"

namespace sluice::plugins::taildir {

namespace {

using text::appendJsonString;
using text::errnoText;

// A small JSON reader, just enough for the position file: it validates structure, reads
// unsigned integers and strings, and skips any other value. Depth is bounded so hostile input
// cannot exhaust the stack.
class Reader {
 public:
  explicit Reader(std::string_view t) : t_(t) {}

  bool failed() const noexcept { return !err_.empty(); }
  const std::string& error() const noexcept { return err_; }
  std::size_t at() const noexcept { return i_; }

  void ws() noexcept {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
      ++i_;
  }
  bool eof() noexcept {
    ws();
    return i_ >= t_.size();
  }
  bool peek(char c) noexcept {
    ws();
    return i_ < t_.size() && t_[i_] == c;
  }
  bool expect(char c) {
    if (peek(c)) {
      ++i_;
      return true;
    }
    fail(std::string("expected '") + c + "'");
    return false;
  }
  void fail(const std::string& what) {
    if (err_.empty()) err_ = what + " at offset " + std::to_string(i_);
  }

  bool string(std::string* out) {
    if (!expect('"')) return false;
    if (out) out->clear();
    while (i_ < t_.size()) {
      const char c = t_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) {
        --i_;
        fail("control character in a string");
        return false;
      }
      if (c != '\\') {
        if (out) out->push_back(c);
        continue;
      }
      if (i_ >= t_.size()) break;
      const char e = t_[i_++];
      char lit = 0;
      switch (e) {
        case '"':
          lit = '"';
          break;
        case '\\':
          lit = '\\';
          break;
        case '/':
          lit = '/';
          break;
        case 'b':
          lit = '\b';
          break;
        case 'f':
          lit = '\f';
          break;
        case 'n':
          lit = '\n';
          break;
        case 'r':
          lit = '\r';
          break;
        case 't':
          lit = '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF && i_ + 1 < t_.size() && t_[i_] == '\\' &&
              t_[i_ + 1] == 'u') {
            i_ += 2;
            uint32_t lo = 0;
            if (!hex4(&lo)) return false;
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              utf8(cp, out);  // a lone high surrogate, then whatever followed
              cp = lo;
            }
          }
          utf8(cp, out);
          continue;
        }
        default:
          --i_;
          fail("bad escape in a string");
          return false;
      }
      if (out) out->push_back(lit);
    }
    fail("unterminated string");
    return false;
  }

  // A non-negative integer (Gson writes longs plainly). Also accepts "123.0" as Gson may write a
  // double-typed value, and rejects negatives and overflow.
  bool unsignedNumber(uint64_t* out) {
    ws();
    const std::size_t from = i_;
    uint64_t v = 0;
    if (i_ < t_.size() && t_[i_] == '-') {
      fail("negative number");
      return false;
    }
    while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') {
      const uint64_t d = static_cast<uint64_t>(t_[i_] - '0');
      if (v > (UINT64_MAX - d) / 10) {
        fail("number too large");
        return false;
      }
      v = v * 10 + d;
      ++i_;
    }
    if (i_ == from) {
      fail("expected a number");
      return false;
    }
    if (i_ < t_.size() && t_[i_] == '.') {
      ++i_;
      while (i_ < t_.size() && t_[i_] == '0') ++i_;
      if (i_ < t_.size() && t_[i_] >= '1' && t_[i_] <= '9') {
        fail("expected a whole number");
        return false;
      }
    }
    if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
      fail("expected a plain whole number");
      return false;
    }
    *out = v;
    return true;
  }

  // Skips any JSON value.
  bool skipValue(int depth = 0) {
    if (depth > 64) {
      fail("nested too deeply");
      return false;
    }
    ws();
    if (i_ >= t_.size()) {
      fail("unexpected end");
      return false;
    }
    const char c = t_[i_];
    if (c == '"') return string(nullptr);
    if (c == '{' || c == '[') {
      const char close = c == '{' ? '}' : ']';
      ++i_;
      if (peek(close)) {
        ++i_;
        return true;
      }
      for (;;) {
        if (c == '{') {
          if (!string(nullptr) || !expect(':')) return false;
        }
        if (!skipValue(depth + 1)) return false;
        if (peek(',')) {
          ++i_;
          continue;
        }
        return expect(close);
      }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      ++i_;
      while (i_ < t_.size() && (std::strchr("0123456789+-.eE", t_[i_]) != nullptr) &&
             t_[i_] != '\0')
        ++i_;
      return true;
    }
    for (const char* word : {"true", "false", "null"}) {
      const std::size_t n = std::strlen(word);
      if (t_.substr(i_, n) == word) {
        i_ += n;
        return true;
      }
    }
    fail("unexpected character");
    return false;
  }

 private:
  bool hex4(uint32_t* out) {
    if (i_ + 4 > t_.size()) {
      fail("short \\u escape");
      return false;
    }
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = t_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9')
        v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f')
        v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F')
        v |= static_cast<uint32_t>(h - 'A' + 10);
      else {
        fail("bad \\u escape");
        return false;
      }
    }
    *out = v;
    return true;
  }
  static void utf8(uint32_t cp, std::string* out) {
    if (!out) return;
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view t_;
  std::size_t i_ = 0;
  std::string err_;
};

}  // namespace

bool parsePositions(std::string_view text, std::vector<PositionEntry>* out, std::string* error,
                    std::size_t* skipped) {
  out->clear();
  if (skipped) *skipped = 0;
  Reader r(text);
  if (r.eof()) return true;
  auto bad = [&] {
    if (error) *error = r.error();
    out->clear();
    return false;
  };
  if (!r.expect('[')) return bad();
  if (r.peek(']')) {
    r.expect(']');
  } else {
    for (;;) {
      if (!r.expect('{')) return bad();
      PositionEntry e;
      bool hasInode = false, hasPos = false, hasFile = false;
      if (r.peek('}')) {
        r.expect('}');
      } else {
        for (;;) {
          std::string key;
          if (!r.string(&key) || !r.expect(':')) return bad();
          bool ok;
          if (key == "inode") {
            ok = r.unsignedNumber(&e.inode);
            hasInode = true;
          } else if (key == "pos") {
            ok = r.unsignedNumber(&e.pos);
            hasPos = true;
          } else if (key == "file") {
            ok = r.string(&e.file);
            hasFile = true;
          } else {
            ok = r.skipValue();
          }
          if (!ok) return bad();
          if (r.peek(',')) {
            r.expect(',');
            continue;
          }
          if (!r.expect('}')) return bad();
          break;
        }
      }
      if (hasInode && hasPos && hasFile && !e.file.empty()) {
        out->push_back(std::move(e));
      } else if (skipped) {
        ++*skipped;
      }
      if (r.peek(',')) {
        r.expect(',');
        continue;
      }
      if (!r.expect(']')) return bad();
      break;
    }
  }
  if (!r.eof()) {
    r.fail("unexpected text after the array");
    return bad();
  }
  return true;
}

std::string formatPositions(const std::vector<PositionEntry>& entries) {
  std::string out;
  out.reserve(entries.size() * 64 + 2);
  out += '[';
  bool first = true;
  for (const auto& e : entries) {
    if (!first) out += ',';
    first = false;
    out += "{\"inode\":";
    out += std::to_string(e.inode);
    out += ",\"pos\":";
    out += std::to_string(e.pos);
    out += ",\"file\":";
    appendJsonString(out, e.file);
    out += '}';
  }
  out += ']';
  return out;
}

namespace {
constexpr std::string_view kFingerprintsHeader = "sluice-taildir-fingerprints 1";
}  // namespace

std::string formatFingerprints(const std::vector<FingerprintEntry>& entries) {
  std::string out(kFingerprintsHeader);
  out += '\n';
  for (const FingerprintEntry& e : entries) {
    for (uint64_t v : {e.inode, e.pos, e.end, e.len}) {
      out += std::to_string(v);
      out += ' ';
    }
    out += std::to_string(e.hash);
    out += '\n';
  }
  return out;
}

bool parseFingerprints(std::string_view text, std::vector<FingerprintEntry>* out) {
  out->clear();
  std::size_t nl = text.find('\n');
  if (text.substr(0, nl) != kFingerprintsHeader) return false;
  while (nl != std::string_view::npos) {
    const std::size_t from = nl + 1;
    nl = text.find('\n', from);
    const std::string_view line =
        text.substr(from, nl == std::string_view::npos ? std::string_view::npos : nl - from);
    uint64_t v[5];
    std::size_t i = 0;
    std::size_t n = 0;
    bool ok = true;
    while (ok && i < line.size() && n < 5) {
      std::size_t j = i;
      uint64_t x = 0;
      while (j < line.size() && line[j] >= '0' && line[j] <= '9') {
        const auto d = static_cast<uint64_t>(line[j] - '0');
        if (x > (UINT64_MAX - d) / 10) {
          ok = false;
          break;
        }
        x = x * 10 + d;
        ++j;
      }
      if (j == i) ok = false;
      v[n++] = x;
      i = j;
      if (i < line.size()) {
        if (line[i] != ' ') ok = false;
        ++i;
      }
    }
    if (!ok || n != 5 || i < line.size() || v[3] == 0 || v[3] > v[2]) continue;
    out->push_back(FingerprintEntry{v[0], v[1], v[2], v[3], v[4]});
  }
  return true;
}

void writeFileAtomically(const std::string& path, std::string_view text) {
  std::string error;
  if (files::writeFileAtomically(path, text, &error) != 0) throw std::runtime_error(error);
}

bool readWholeFile(const std::string& path, std::string* out) {
  out->clear();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return false;
    throw std::runtime_error("cannot open '" + path + "': " + errnoText(errno));
  }
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw std::runtime_error("cannot read '" + path + "': " + errnoText(err));
    }
    if (n == 0) break;
    out->append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return true;
}

}  // namespace sluice::plugins::taildir
