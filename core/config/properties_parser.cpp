// Flume agent files are read by java.util.Properties.load(Reader), so a .properties file must mean
// here exactly what it means to Flume. This follows the JDK's LineReader/loadConvert rules; the
// few deliberate differences are marked "Unlike Java".

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config/model.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core {

namespace {

// Java's LineReader treats these as the whitespace that separates and indents (not \r or \n).
bool isPropsSpace(char c) { return c == ' ' || c == '\t' || c == '\f'; }

// String.trim(), which Flume applies to every key and value: strips all chars <= U+0020.
std::string javaTrim(std::string s) {
  std::size_t b = 0, e = s.size();
  while (b < e && static_cast<unsigned char>(s[b]) <= 0x20) ++b;
  while (e > b && static_cast<unsigned char>(s[e - 1]) <= 0x20) --e;
  return s.substr(b, e - b);
}

using plugins::text::appendUtf8;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One logical line: continuation lines joined, with the physical line each piece started on so an
// escape error can point at the exact line even inside a continued value.
struct LogicalLine {
  std::string text;
  int firstLine = 0;
  std::vector<std::pair<std::size_t, int>> pieces;  // (offset in text, physical line)

  int lineAt(std::size_t offset) const {
    int line = firstLine;
    for (const auto& [start, l] : pieces)
      if (start <= offset) line = l;
    return line;
  }
};

// Java's LineReader.readLine(): skips blank and comment lines, joins backslash-continued lines.
class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {
    // Unlike Java: a UTF-8 byte order mark would otherwise become part of the first key and
    // silently hide it (a classic Windows-editor trap).
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
  }

  bool next(LogicalLine& out) {
    out.text.clear();
    out.pieces.clear();
    bool skipWhiteSpace = true;
    bool isCommentLine = false;
    bool isNewLine = true;
    bool appendedLineBegin = false;
    bool precedingBackslash = false;

    while (true) {
      if (pos_ >= text_.size()) {
        // EOF: Java drops a dangling continuation backslash and returns what it has.
        if (out.text.empty() || isCommentLine) return false;
        if (precedingBackslash) out.text.pop_back();
        return true;
      }
      const char c = text_[pos_++];
      if (skipWhiteSpace) {
        if (isPropsSpace(c)) continue;
        if (!appendedLineBegin && (c == '\r' || c == '\n')) {
          countNewline(c);
          continue;
        }
        skipWhiteSpace = false;
        appendedLineBegin = false;
      }
      if (isNewLine) {
        isNewLine = false;
        out.firstLine = line_;
        out.pieces.emplace_back(0, line_);
        if (c == '#' || c == '!') {
          isCommentLine = true;
          continue;
        }
      }
      if (c != '\n' && c != '\r') {
        if (isCommentLine) continue;
        if (out.pieces.empty() || out.pieces.back().second != line_)
          out.pieces.emplace_back(out.text.size(), line_);
        out.text += c;
        precedingBackslash = c == '\\' ? !precedingBackslash : false;
        continue;
      }
      // End of a physical line.
      countNewline(c);
      if (isCommentLine || out.text.empty()) {
        isCommentLine = false;
        isNewLine = true;
        skipWhiteSpace = true;
        out.pieces.clear();
        continue;
      }
      if (precedingBackslash) {
        out.text.pop_back();
        skipWhiteSpace = true;
        appendedLineBegin = true;
        precedingBackslash = false;
        continue;
      }
      return true;
    }
  }

 private:
  void countNewline(char c) {
    ++line_;
    // \r\n is one line break: swallow the \n right here so that the next line is not counted
    // twice (Java does the same with its skipLF flag).
    if (c == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

// Java's loadConvert(): resolves escapes. Unlike Java, \uXXXX yields UTF-8, and a surrogate pair
// becomes one code point (Java keeps UTF-16 code units, which are the same text).
std::string unescape(const LogicalLine& ll, std::size_t begin, std::size_t end,
                     const std::string& file, std::string_view what) {
  const std::string& in = ll.text;
  std::string out;
  out.reserve(end - begin);
  uint32_t pendingHigh = 0;  // a high surrogate waiting for its low half
  auto flushHigh = [&] {
    // A lone surrogate cannot be encoded; Java's encoder writes a replacement too.
    if (pendingHigh != 0) appendUtf8(out, 0xFFFD);
    pendingHigh = 0;
  };
  std::size_t i = begin;
  while (i < end) {
    char c = in[i++];
    if (c != '\\' || i >= end) {
      flushHigh();
      out += c;
      continue;
    }
    const std::size_t escapeAt = i - 1;
    c = in[i++];
    if (c != 'u') {
      flushHigh();
      switch (c) {
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'n':
          out += '\n';
          break;
        case 'f':
          out += '\f';
          break;
        default:
          out += c;
          break;  // \\ \= \: \# \! \<space> and any other char: itself
      }
      continue;
    }
    uint32_t unit = 0;
    for (int k = 0; k < 4; ++k) {
      const int h = i < end ? hexValue(in[i]) : -1;
      if (h < 0) {
        const std::size_t shownEnd = std::min(end, i + 1);
        throw ConfigParseError(
            file + ":" + std::to_string(ll.lineAt(escapeAt)) + ": malformed \\uXXXX escape '" +
            in.substr(escapeAt, shownEnd - escapeAt) + "' in " + std::string(what));
      }
      unit = unit * 16 + static_cast<uint32_t>(h);
      ++i;
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      flushHigh();
      pendingHigh = unit;
    } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
      if (pendingHigh != 0) {
        appendUtf8(out, 0x10000 + ((pendingHigh - 0xD800) << 10) + (unit - 0xDC00));
        pendingHigh = 0;
      } else {
        appendUtf8(out, 0xFFFD);
      }
    } else {
      flushHigh();
      appendUtf8(out, unit);
    }
  }
  flushHigh();
  return out;
}

}  // namespace

RawConfig parseProperties(std::string_view text, const std::string& file, Diagnostics* diags) {
  RawConfig raw;
  raw.file = file;
  raw.flumeProperties = true;
  LineReader reader(text);
  LogicalLine ll;
  while (reader.next(ll)) {
    const std::string& buf = ll.text;
    const std::size_t limit = buf.size();
    // Key ends at the first unescaped '=', ':' or whitespace (Java's load0).
    std::size_t keyLen = 0;
    std::size_t valueStart = limit;
    bool hasSep = false;
    bool precedingBackslash = false;
    while (keyLen < limit) {
      const char c = buf[keyLen];
      if ((c == '=' || c == ':') && !precedingBackslash) {
        valueStart = keyLen + 1;
        hasSep = true;
        break;
      }
      if (isPropsSpace(c) && !precedingBackslash) {
        valueStart = keyLen + 1;
        break;
      }
      precedingBackslash = c == '\\' ? !precedingBackslash : false;
      ++keyLen;
    }
    // Whitespace, then at most one '=' or ':' when whitespace ended the key ("key = value").
    while (valueStart < limit) {
      const char c = buf[valueStart];
      if (!isPropsSpace(c)) {
        if (!hasSep && (c == '=' || c == ':'))
          hasSep = true;
        else
          break;
      }
      ++valueStart;
    }
    std::string key = javaTrim(unescape(ll, 0, keyLen, file, "a key"));
    std::string value =
        javaTrim(unescape(ll, valueStart, limit, file, "the value of '" + key + "'"));
    if (key.empty()) {
      // Flume rejects a property without a name; keeping "" would only confuse later checks.
      if (diags)
        diags->warn(file + ":" + std::to_string(ll.firstLine) +
                    ": line has a value but no key; ignored");
      continue;
    }
    sdk::Parameter param{std::move(value), sdk::Location{file, ll.firstLine}};
    auto [it, inserted] = raw.entries.try_emplace(key, param);
    if (!inserted) {
      if (diags)
        diags->warn(file + ":" + std::to_string(ll.firstLine) + ": key '" + key +
                    "' repeats the one at line " + std::to_string(it->second.where.line) +
                    "; the last one wins");
      it->second = std::move(param);
    }
  }
  return raw;
}

}  // namespace sluice::core
