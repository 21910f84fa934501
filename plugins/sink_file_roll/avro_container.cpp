#include "avro_container.hpp"

namespace sluice::plugins::file_roll {

void appendContainerHeader(std::string& out, const SyncMarker& sync) {
  out.append("Obj\x01", 4);
  appendAvroLong(out, 2);  // one block of two metadata entries
  appendAvroBytes(out, "avro.schema");
  appendAvroBytes(out, kFlumeEventSchema);
  appendAvroBytes(out, "avro.codec");
  appendAvroBytes(out, "null");
  appendAvroLong(out, 0);
  out.append(sync.data(), sync.size());
}

void appendEventBlocks(std::string& out, std::string& scratch, std::span<const sdk::Event> events,
                       const SyncMarker& sync, std::size_t syncIntervalBytes) {
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

}  // namespace sluice::plugins::file_roll
