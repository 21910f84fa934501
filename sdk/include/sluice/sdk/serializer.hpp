#pragma once
// Event serializers: how a file-writing sink (file_roll, hdfs) turns events into the bytes of an
// output file, Flume's org.apache.flume.serialization.EventSerializer and its Builder. The
// built-in TEXT, HEADER_AND_TEXT and avro_event live inside those sinks; a plugin of kind
// EventSerializer adds another: `sink.serializer = com.example.CsvSerializer$Builder` (file_roll)
// or `serializer = ...` (hdfs), with its own keys below that key ("sink.serializer.delimiter"),
// which its schema declares without the prefix ("delimiter").
//
// Unlike Flume's, a serializer does not write to a stream: it appends bytes to the sink's buffer,
// and the sink writes, syncs, rolls and repairs the file. So a serializer never sees a file
// descriptor, and a batch the channel rolls back is cut from the file by the sink as with the
// built-ins. It receives a batch per call, not an event.

#include <memory>
#include <span>
#include <string>

#include "sluice/sdk/component.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::sdk {

// One output file's serializer, used by one sink thread at a time. The sink calls the public,
// non-virtual members; each runs the protected virtual of the same job and turns an exception
// into a failed Result, so none leaves the serializer's library. On a failure the sink rolls the
// batch back, as for a failed write.
class SLUICE_SDK_API EventSerializer {
 public:
  virtual ~EventSerializer() = default;

  // After the file was created: a header, if the format has one.
  Result afterCreate(std::string& out) noexcept {
    return detail::guarded([&] { onCreate(out); });
  }
  // After an existing file was opened again to append to it (only if supportsReopen()).
  Result afterReopen(std::string& out) noexcept {
    return detail::guarded([&] { onReopen(out); });
  }
  // Appends the events' bytes, in order.
  Result write(std::span<const Event> events, std::string& out) noexcept {
    return detail::guarded([&] { onWrite(events, out); });
  }
  // Before the file is closed (rolled): a trailer, if the format has one.
  Result beforeClose(std::string& out) noexcept {
    return detail::guarded([&] { onClose(out); });
  }

  // Flume's supportsReopen(): whether a sink may append to a file this format wrote earlier.
  virtual bool supportsReopen() const noexcept { return false; }
  // Whether every event's bytes end with '\n' and contain no other newline. After a crash, a sink
  // cuts a line-oriented file back to its last complete line (the torn batch comes again from the
  // channel); other formats are kept as they are on disk.
  virtual bool lineOriented() const noexcept { return false; }

 protected:
  virtual void onCreate(std::string& out) { (void)out; }
  virtual void onReopen(std::string& out) { (void)out; }
  virtual void onWrite(std::span<const Event> events, std::string& out) = 0;
  virtual void onClose(std::string& out) { (void)out; }
};

// The component of kind EventSerializer. Configured once by the host with the keys below the
// owner's serializer key; then makes one serializer per output file, on the sink's thread.
class SLUICE_SDK_API EventSerializerBuilder : public PluginObject {
 public:
  // build(), guarded: nullptr with the reason in `result` when it throws or returns nothing.
  std::unique_ptr<EventSerializer> newSerializer(Result& result) noexcept {
    std::unique_ptr<EventSerializer> out;
    result = detail::guarded([&] { out = build(); });
    if (result && !out) result = Result::failure("build() returned no serializer");
    return out;
  }

 protected:
  virtual std::unique_ptr<EventSerializer> build() = 0;
};

}  // namespace sluice::sdk
