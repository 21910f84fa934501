#include "logger_sink.hpp"

#include <algorithm>
#include <span>

#include "config_keys.hpp"

namespace sluice::plugins::logger {

const sdk::Schema& loggerSinkSchema() {
  static const sdk::Schema schema{
      sdk::Key("maxBytesToLog")
          .integer()
          .def("16")
          .range(0, 2147483647)
          .doc("Maximum number of bytes of each event body to log"),
      sdk::Key("batchSize")
          .integer()
          .def("100")
          .range(1, 2147483647)
          .doc("Maximum number of events taken and logged per transaction"),
  };
  return schema;
}

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

// commons-io HexDump.dump(data, 0, out, 0): per 16 bytes, an 8-digit offset, a space, 16 cells
// of "XX " (blank cells "   "), the printable characters ('.' otherwise), and a newline.
void appendHexDump(std::string& out, std::string_view data) {
  for (std::size_t line = 0; line < data.size(); line += 16) {
    const std::size_t n = std::min<std::size_t>(16, data.size() - line);
    if (line > 0) {  // the first line's offset, 00000000, is removed by dumpEvent
      out += '\n';
      for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(line >> shift) & 0xF];
    }
    out += ' ';
    for (std::size_t k = 0; k < 16; ++k) {
      if (k < n) {
        const auto b = static_cast<unsigned char>(data[line + k]);
        out += kHex[b >> 4];
        out += kHex[b & 0xF];
      } else {
        out += "  ";
      }
      out += ' ';
    }
    for (std::size_t k = 0; k < n; ++k) {
      const auto b = static_cast<unsigned char>(data[line + k]);
      out += (b >= 0x20 && b < 0x7F) ? static_cast<char>(b) : '.';
    }
  }
  // dumpEvent strips the final line separator, so none is added after the last line.
}

}  // namespace

void appendEventDump(std::string& out, const sdk::Event& event, std::size_t maxBytes) {
  out += "{ headers:{";
  bool first = true;
  for (const auto& [name, value] : event.headers) {
    if (!first) out += ", ";
    first = false;
    out += name;
    out += '=';
    out += value;
  }
  out += "} body:";
  const std::string_view body = event.getBody();
  appendHexDump(out, body.substr(0, std::min(maxBytes, body.size())));
  out += " }";
}

void LoggerSink::configure(const sdk::Context& context) {
  maxBytesToLog_ = static_cast<std::size_t>(requireInteger(context, "maxBytesToLog"));
  batchSize_ = static_cast<std::size_t>(requireInteger(context, "batchSize"));
}

sdk::Status LoggerSink::process() {
  sdk::SinkBatch batch(*this, batchSize_);
  if (!batch.ok()) return deliveryFailed(batch.error());  // rolled back
  // An empty channel: let the runner back off. A short batch still did work: READY.
  if (batch.empty()) return sdk::Status::BACKOFF;
  if (logger().shouldLog(sdk::LogLevel::info)) {
    for (const sdk::Event& e : batch.events()) {
      line_.assign("Event: ");
      appendEventDump(line_, e, maxBytesToLog_);
      logger().log(sdk::LogLevel::info, line_);
    }
  }
  if (sdk::Result r = batch.commit(); !r)
    return deliveryFailed("Failed to commit the take transaction: " + r.error());
  return sdk::Status::READY;
}

}  // namespace sluice::plugins::logger
