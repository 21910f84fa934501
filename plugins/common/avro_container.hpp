#pragma once
// The Avro object container format (Avro 1.11 specification, "Object Container Files"), for
// Flume's avro_event serializer (FlumeEventAvroEventSerializer), shared by the file_roll and
// hdfs sinks. Every event is one record of
//
//   {"type":"record","name":"Event","fields":[
//     {"name":"headers","type":{"type":"map","values":"string"}},
//     {"name":"body","type":"bytes"}]}
//
// written with codec "null". A file is: the magic "Obj\x01", a metadata map (avro.schema,
// avro.codec), a 16-byte sync marker; then blocks, each: object count, byte size, the
// serialized objects, the sync marker. Any prefix of a file that ends after a block's sync
// marker is itself a valid container, so a sink appends whole blocks and can cut a failed one
// off with ftruncate (file_output.hpp). Header-only: compiled into each plugin that uses it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "sluice/sdk/event.hpp"

namespace sluice::plugins::avro {

inline constexpr std::string_view kFlumeEventSchema =
    R"({"type":"record","name":"Event","fields":[{"name":"headers","type":{"type":"map","values":"string"}},{"name":"body","type":"bytes"}]})";

using SyncMarker = std::array<char, 16>;

// Avro's long: zig-zag, then base-128 varint, least significant group first.
inline void appendAvroLong(std::string& out, int64_t value) {
  uint64_t n = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  char buf[10];
  std::size_t len = 0;
  while (n >= 0x80) {
    buf[len++] = static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  buf[len++] = static_cast<char>(n);
  out.append(buf, len);
}

// Avro's bytes and string: a long length, then the bytes.
inline void appendAvroBytes(std::string& out, std::string_view bytes) {
  appendAvroLong(out, static_cast<int64_t>(bytes.size()));
  out.append(bytes.data(), bytes.size());
}

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

}  // namespace sluice::plugins::avro
