#pragma once
// The Avro object container format (Avro 1.11 specification, "Object Container Files"), for
// Flume's avro_event serializer (FlumeEventAvroEventSerializer), shared by the file_roll and
// hdfs sinks. Every event is one record of
//
//   {"type":"record","name":"Event","fields":[
//     {"name":"headers","type":{"type":"map","values":"string"}},
//     {"name":"body","type":"bytes"}]}
//
// written with codec "null". (The Avro encoding primitives are in avro_binary.hpp; the same
// record is the AvroFlumeEvent of Flume's Avro RPC protocol, avro_rpc.hpp.) A file is: the
// magic "Obj\x01", a metadata map (avro.schema, avro.codec), a 16-byte sync marker; then
// blocks, each: object count, byte size, the serialized objects, the sync marker. Any prefix of
// a file that ends after a block's sync marker is itself a valid container, so a sink appends
// whole blocks and can cut a failed one off with ftruncate (file_output.hpp). Header-only:
// compiled into each plugin that uses it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "avro_binary.hpp"
#include "sluice/sdk/event.hpp"

namespace sluice::plugins::avro {

inline constexpr std::string_view kFlumeEventSchema =
    R"({"type":"record","name":"Event","fields":[{"name":"headers","type":{"type":"map","values":"string"}},{"name":"body","type":"bytes"}]})";

using SyncMarker = std::array<char, 16>;

// The file header: magic, metadata (avro.schema, avro.codec = null), sync marker.
inline void appendContainerHeader(std::string& out, const SyncMarker& sync) {
  out.append("Obj\x01", 4);
  appendAvroLong(out, 2);  // one block of two metadata entries
  appendAvroBytes(out, "avro.schema");
  appendAvroBytes(out, kFlumeEventSchema);
  appendAvroBytes(out, "avro.codec");
  appendAvroBytes(out, "null");
  appendAvroLong(out, 0);
  out.append(sync.data(), sync.size());
}

// One Event record: headers as a map<string> (one block of pairs, then the 0 terminator), body
// as bytes.
inline void appendEventRecord(std::string& out, const sdk::Event& event) {
  const sdk::Headers& h = event.getHeaders();
  if (!h.empty()) {
    appendAvroLong(out, static_cast<int64_t>(h.size()));
    for (const auto& [name, value] : h) {
      appendAvroBytes(out, name);
      appendAvroBytes(out, value);
    }
  }
  appendAvroLong(out, 0);
  appendAvroBytes(out, event.getBody());
}

// Appends data blocks to `out`: records serialized into `scratch` (reused by the caller), cut
// into a new block whenever a block reaches syncIntervalBytes, as Avro's DataFileWriter does.
// Every block ends with the sync marker.
inline void appendEventBlocks(std::string& out, std::string& scratch,
                              std::span<const sdk::Event> events, const SyncMarker& sync,
                              std::size_t syncIntervalBytes) {
  std::size_t i = 0;
  while (i < events.size()) {
    scratch.clear();
    int64_t count = 0;
    do {
      appendEventRecord(scratch, events[i++]);
      ++count;
    } while (i < events.size() && scratch.size() < syncIntervalBytes);
    appendAvroLong(out, count);
    appendAvroLong(out, static_cast<int64_t>(scratch.size()));
    out.append(scratch);
    out.append(sync.data(), sync.size());
  }
}

// Reading back, for crash repair: the length of the longest prefix of a container that ends
// after a complete block (or after the header when no block is complete), so that cutting the
// file there leaves a valid container. `read(offset, buf, n)` fills buf with up to n bytes at
// offset and returns how many it read (0 at the end, -1 on an error). Returns -1 on a read error,
// -2 when the data does not start with an Avro container header (the caller must not cut it),
// and 0 when even the header is incomplete.
using ReadAt = std::function<int64_t(uint64_t offset, char* buf, std::size_t n)>;

inline int64_t completeContainerPrefix(const ReadAt& read) {
  uint64_t pos = 0;
  char buf[16];
  bool failed = false;
  auto readExact = [&](char* out, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      const int64_t r = read(pos + got, out + got, n - got);
      if (r < 0) failed = true;
      if (r <= 0) return false;
      got += static_cast<std::size_t>(r);
    }
    pos += n;
    return true;
  };
  auto readLong = [&](int64_t* v) {
    uint64_t n = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      char c;
      if (!readExact(&c, 1)) return false;
      n |= static_cast<uint64_t>(static_cast<unsigned char>(c) & 0x7f) << shift;
      if ((static_cast<unsigned char>(c) & 0x80) == 0) {
        *v = static_cast<int64_t>(n >> 1) ^ -static_cast<int64_t>(n & 1);
        return true;
      }
    }
    return false;  // more than 10 bytes: not a long
  };
  auto skipBytes = [&](int64_t n) {  // an Avro bytes/string value whose length was read
    if (n < 0) return false;
    char probe;
    pos += static_cast<uint64_t>(n);
    if (n == 0) return true;
    pos -= 1;
    return readExact(&probe, 1);  // the value's last byte is there
  };

  if (!readExact(buf, 4)) return failed ? -1 : 0;
  if (std::string_view(buf, 4) != std::string_view("Obj\x01", 4)) return -2;
  for (;;) {  // metadata map: blocks of entries, ended by a count of 0
    int64_t count = 0;
    if (!readLong(&count)) return failed ? -1 : 0;
    if (count == 0) break;
    if (count < 0) {  // a negative count is followed by the block's size in bytes
      int64_t size = 0;
      if (!readLong(&size)) return failed ? -1 : 0;
      count = -count;
    }
    for (int64_t i = 0; i < count; ++i) {
      int64_t len = 0;
      if (!readLong(&len) || !skipBytes(len) || !readLong(&len) || !skipBytes(len))
        return failed ? -1 : 0;
    }
  }
  SyncMarker sync{};
  if (!readExact(sync.data(), sync.size())) return failed ? -1 : 0;
  uint64_t complete = pos;
  for (;;) {
    int64_t count = 0, size = 0;
    if (!readLong(&count) || !readLong(&size) || count <= 0 || size < 0 ||
        !skipBytes(size) || !readExact(buf, sizeof buf) ||
        std::memcmp(buf, sync.data(), sync.size()) != 0)
      return failed ? -1 : static_cast<int64_t>(complete);
    complete = pos;
  }
}

}  // namespace sluice::plugins::avro
