#pragma once
// What Java does to text on Flume's syslog paths, reproduced on UTF-8 bytes:
//  - SyslogUtils turns the message into a String with the platform charset (UTF-8) and the body
//    back into bytes, so malformed UTF-8 in the body comes out with U+FFFD where Java's decoder
//    delimits a malformed sequence (appendJavaUtf8);
//  - SyslogParser works on String positions, which count UTF-16 units (utf16Units);
//  - Integer.parseInt accepts a sign and any Unicode decimal digit (javaParseInt).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::plugins::syslog {

// Appends what new String(s, UTF_8).getBytes(UTF_8) yields: s unchanged when it is well-formed,
// else each malformed sequence replaced by U+FFFD as the JDK's UTF-8 decoder cuts them.
void appendJavaUtf8(std::string_view s, std::string& out);

// UTF-16 units of the well-formed UTF-8 in s (a 4-byte sequence is a surrogate pair).
std::size_t utf16Units(std::string_view s) noexcept;
// The byte offset after `units` UTF-16 units from the start of s, or npos if s is shorter. A
// surrogate pair that the count would split is taken whole.
std::size_t advanceUtf16(std::string_view s, std::size_t units) noexcept;

// Integer.parseInt(s) for the short strings Flume passes it (s is UTF-8): an optional + or -,
// then one or more decimal digits of any script (Character.digit(c, 10)). nullopt where Java
// throws NumberFormatException (including overflow).
std::optional<int32_t> javaParseInt(std::string_view s) noexcept;

}  // namespace sluice::plugins::syslog
