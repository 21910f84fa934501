#pragma once
// Turning a spooled file's raw bytes into events: Flume's LINE and BLOB
// deserializers. Pure functions over a byte window, no I/O, so they are unit-tested and fuzzed
// directly (fuzz_spooldir_line.cpp, fuzz_spooldir_blob.cpp, fuzz_spooldir_charset.cpp).
//
// Positions are raw file offsets: every step reports how many raw bytes it consumed, so the
// source can commit "everything before offset X is in the channels" and resume there after a
// crash without decoding anything twice.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "../common/charset.hpp"
#include "sluice/sdk/event.hpp"

namespace sluice::plugins::spooldir {

// The charset decoder is shared with the multiport syslog source (plugins/common/charset.hpp).
using charset::DecodeErrorPolicy;
using charset::Decoder;
using charset::isValidUtf8;
using charset::kReplacement;

// What one deserializer step did.
struct Step {
  enum Kind {
    Events,    // appended >= 1 event; consumed > 0
    Skipped,   // consumed bytes that yield no event (IGNOREd garbage); consumed > 0
    NeedMore,  // the window holds no complete unit; read more (only when !eof)
    End,       // eof and the window is empty
    BadInput,  // FAIL policy met an undecodable byte at raw offset `bad` of the window
  };
  Kind kind = End;
  std::size_t consumed = 0;
  std::size_t bad = 0;
};

// Flume's LineDeserializer: one event per line, the '\n' removed (a '\r' before it is kept, as
// in Flume). A line of more than maxLineLength characters is cut into events of maxLineLength
// characters (Flume logs "truncating line" and does the same); `splitLines` counts them.
// Bodies are UTF-8 (Flume's deserializer.outputCharset default; other output charsets are not
// supported).
class LineDeserializer {
 public:
  LineDeserializer(Decoder& decoder, DecodeErrorPolicy policy, std::size_t maxLineLength);

  // window: raw bytes not yet consumed; eof: nothing follows them. Appends the events of one
  // line (several when it is cut) to out.
  Step step(std::string_view window, bool eof, sdk::EventBatch& out);

  // Raw bytes the caller must be able to hold in its window for step() to make progress on a
  // line with no newline in sight.
  std::size_t windowBytes() const noexcept { return cap_ + 8; }
  int64_t splitLines() const noexcept { return splitLines_; }
  int64_t replacedBytes() const noexcept { return replaced_; }

 private:
  Step utf8Slow(std::string_view line, bool hasNewline, bool complete, sdk::EventBatch& out);
  Step viaDecoder(std::string_view window, bool eof, sdk::EventBatch& out);

  Decoder& decoder_;
  DecodeErrorPolicy policy_;
  std::size_t maxLineLength_;
  std::size_t cap_;  // raw bytes after which a line without a newline is cut
  std::string scratch_;
  int64_t splitLines_ = 0;
  int64_t replaced_ = 0;
};

// Flume's BlobDeserializer: the whole file as one event of raw bytes (no decoding); a file larger
// than maxBlobLength becomes several events of maxBlobLength bytes.
class BlobDeserializer {
 public:
  explicit BlobDeserializer(std::size_t maxBlobLength) : max_(maxBlobLength) {}
  Step step(std::string_view window, bool eof, sdk::EventBatch& out);
  std::size_t windowBytes() const noexcept { return max_; }

 private:
  std::size_t max_;
};

}  // namespace sluice::plugins::spooldir
