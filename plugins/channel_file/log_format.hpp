#pragma once
// The on-disk format of the file channel's log files and checkpoints (see README.md, "On-disk
// format"). Pure functions over byte buffers: the channel, the offline checker and the fuzz
// target all parse through here, so there is one reader to harden.
//
// Log file:   [file header, 16 bytes] [record] [record] ...
// File header: u32 magic "SLFL", u32 format version, u32 file id, u32 reserved (0).
// Record:     u32 payload length, u32 CRC-32C of the payload, payload.
// Payload:    u8 type, u64 transaction id, then by type:
//   Put     u32 header count, {u32 len, name, u32 len, value}..., u32 body length, body
//   Take    u32 count, count x u64 position of the Put record taken
//   Commit  u32 number of Put records of this transaction just before it
//   State   u32 key length, key, u32 value length, value (version 2): a source's state
//           (sdk::Transaction::putSourceState) carried by the put transaction of the same id
// All integers are little-endian. A put transaction is one write(): its Put records, then its
// State records, then its Commit record; replay applies the puts and the states only when the
// Commit is there. A committed take is one Take record, which is atomic by its checksum.
// Version 1 logs (no State records) replay unchanged; a version 2 log is refused by a version 1
// reader instead of being misread.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "sluice/sdk/event.hpp"

namespace sluice::plugins::filechannel {

static_assert(std::endian::native == std::endian::little, "the log format is little-endian");

inline constexpr uint32_t kLogMagic = 0x4c464c53;  // "SLFL"
inline constexpr uint32_t kLogVersion = 2;         // written
inline constexpr uint32_t kMinLogVersion = 1;      // oldest still read
inline constexpr std::size_t kFileHeaderSize = 16;
inline constexpr std::size_t kRecordHeaderSize = 8;
// Larger payload lengths are corruption, never a record (bodies are far below this).
inline constexpr uint32_t kMaxPayload = 256u << 20;

enum class RecordType : uint8_t { Put = 1, Take = 2, Commit = 3, State = 4 };

// One source's state in one put transaction (key: the source's full path).
struct SourceState {
  std::string key;
  std::string value;
};

// A record's place in the log: file id in the top 24 bits, byte offset in the low 40. Positions
// grow with the log, so comparing them compares log order.
inline constexpr int kOffsetBits = 40;
inline constexpr uint64_t kMaxOffset = (uint64_t{1} << kOffsetBits) - 1;
inline constexpr uint32_t kMaxFileId = (1u << 24) - 1;
inline constexpr uint64_t makePos(uint32_t fileId, uint64_t offset) noexcept {
  return (uint64_t{fileId} << kOffsetBits) | offset;
}
inline constexpr uint32_t fileOf(uint64_t pos) noexcept {
  return static_cast<uint32_t>(pos >> kOffsetBits);
}
inline constexpr uint64_t offsetOf(uint64_t pos) noexcept { return pos & kMaxOffset; }

// One queued event: where its Put record is and how long it is (header included). The whole
// in-memory index of the channel is one of these per event.
struct IndexEntry {
  uint64_t pos = 0;
  uint32_t len = 0;
};

// ---- Writing (append to `out`; each returns the record's total size) ----
std::size_t appendPutRecord(std::string& out, uint64_t txId, const sdk::Event& event);
std::size_t appendTakeRecord(std::string& out, uint64_t txId, std::span<const IndexEntry> taken);
std::size_t appendCommitRecord(std::string& out, uint64_t txId, uint32_t putCount);
std::size_t appendStateRecord(std::string& out, uint64_t txId, std::string_view key,
                              std::string_view value);
void appendFileHeader(std::string& out, uint32_t fileId);

// ---- Reading ----
enum class ParseStatus {
  Ok,         // a whole record with a good checksum
  Truncated,  // the buffer ends inside the record (a torn tail)
  Corrupt,    // bad length, checksum or type
};

struct RecordView {
  RecordType type{};
  uint64_t txId = 0;
  std::string_view body;  // the payload after type and transaction id
  uint32_t size = 0;      // the whole record, header included
};

const char* nameOf(ParseStatus s) noexcept;

// Parses the record at the start of [data, data+avail). Never reads past avail.
ParseStatus parseRecord(const char* data, std::size_t avail, RecordView& out) noexcept;
// Checks a file header; returns false (and sets *why) when it is not one of ours.
bool parseFileHeader(const char* data, std::size_t avail, uint32_t& fileId, std::string* why);

// Decodes a Put body into event (reusing its storage). False when malformed.
bool decodePut(std::string_view body, sdk::Event& event);
// Decodes a Take body: count and a pointer to the packed u64 positions. False when malformed.
bool decodeTake(std::string_view body, uint32_t& count, const char*& positions) noexcept;
inline uint64_t takePosition(const char* positions, uint32_t i) noexcept {
  uint64_t v;
  std::memcpy(&v, positions + 8 * std::size_t{i}, 8);
  return v;
}
bool decodeCommit(std::string_view body, uint32_t& putCount) noexcept;
// Decodes a State body; key and value view into body. False when malformed.
bool decodeState(std::string_view body, std::string_view& key, std::string_view& value) noexcept;

}  // namespace sluice::plugins::filechannel
