#include "avro_sink.hpp"

#include <stdexcept>
#include <string_view>
#include <utility>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "listener.hpp"
#include "net/keys.hpp"
#include "text_util.hpp"

namespace sluice::plugins::avro_sink {

namespace rpc = sluice::plugins::avro;

namespace {

constexpr std::size_t kInflateBytes = std::size_t{64} * 1024;
// A response is a handshake (with the server's protocol text) and a Status: small. Anything
// larger is not a Flume server.
constexpr std::size_t kMaxResponseBytes = 4u << 20;

// Collects the one frame that answers a request, from the bytes as the client reads them
// (inflated first with compression-type = deflate). Takes every byte: the frame decoder keeps
// an unfinished frame itself.
class AnswerReader final : public net::ResponseReader {
 public:
  AnswerReader(rpc::ResponseFrame& frame, zlib_stream::Inflater* inflater, char* scratch)
      : frame_(frame), inflater_(inflater), scratch_(scratch) {}

  Result onData(std::string_view data) override {
    bool framed = true;
    if (!inflater_) {
      framed = frame_.feed(data.data(), data.size(), &error_);
    } else {
      const char* zerr = nullptr;
      auto toFrames = [&](const char* p, std::size_t n) {
        framed = frame_.feed(p, n, &error_);
        return framed && !frame_.done();
      };
      if (!inflater_->feed(data.data(), data.size(), scratch_, kInflateBytes, toFrames, &zerr))
        error_ = zerr ? zerr : "inflate failed";
    }
    if (!framed || !error_.empty()) return {data.size(), false, why()};
    return {data.size(), frame_.done(), nullptr};
  }

 private:
  // The client says "bad answer: " itself.
  const char* why() const noexcept {
    constexpr std::string_view kPrefix = "bad answer: ";
    return error_.c_str() + (error_.starts_with(kPrefix) ? kPrefix.size() : 0);
  }

  rpc::ResponseFrame& frame_;
  zlib_stream::Inflater* inflater_;
  char* scratch_;
  std::string error_;
};

}  // namespace

const sdk::Schema& avroSinkSchema() {
  static const sdk::Schema schema = net::withKeys(
      net::rpcSinkKeys("avro"),
      std::vector<sdk::Key>{
          net::resetIntervalKey("reset-connection-interval"),
          sdk::Key("compression-type")
              .oneOf({"none", "deflate"})
              .def("none")
              .doc("deflate compresses the connection; the next hop's source must use deflate too"),
          sdk::Key("compression-level")
              .integer()
              .def("6")
              .range(0, 9)
              .doc("zlib level for compression-type = deflate: 0 stores, 9 compresses most"),
          sdk::Key("maxIoWorkers")
              .flumeIgnored(
                  "accepted and ignored: the sink sends from its runner thread, without an "
                  "I/O worker pool"),
      },
      net::tlsClientKeys());
  return schema;
}

AvroSink::AvroSink() {
  counter_layout::addInOrder(sinkCounter(), kHandshakeNoneCount,
                             {"HandshakeNoneCount", "BatchRefusedCount"}, "avro sink");
  limits_.maxFrameBytes = kMaxResponseBytes;
  limits_.maxBuffers = 1 << 16;
}

AvroSink::~AvroSink() = default;

void AvroSink::configure(const sdk::Context& context) {
  AvroSinkSettings s;
  net::configureRpcSink(context, logger(), s);
  s.resetConnectionInterval =
      std::chrono::seconds(requireLong(context, "reset-connection-interval"));
  s.deflate = text::lower(text::trimmed(requireValue(context, "compression-type"))) == "deflate";
  s.compressionLevel = static_cast<int>(requireInteger(context, "compression-level"));
  conn_.reset();  // a reload may point the sink elsewhere
  s_ = std::move(s);
  target_ = s_.address();
  configured_ = true;
}

void AvroSink::start() {
  if (!configured_) throw std::logic_error("avro sink started before configure()");
  conn_.open(s_, logger(), sinkCounter());
  logger().info("sending to ", target_, s_.tls ? " over TLS" : "",
                s_.deflate ? " (compression-type deflate)" : "");
}

void AvroSink::stop() { conn_.close(); }

sdk::Result AvroSink::connect() {
  bool fresh = false;
  if (sdk::Result r = conn_.ready(s_.resetConnectionInterval, &fresh); !r || !fresh) return r;
  // A new connection: a new handshake and new zlib streams.
  hs_ = rpc::ClientHandshake{};
  deflater_.reset();
  inflater_.reset();
  if (s_.deflate) {
    deflater_ = std::make_unique<zlib_stream::Deflater>();
    inflater_ = std::make_unique<zlib_stream::Inflater>();
    if (!inflateBuf_) inflateBuf_.reset(new char[kInflateBytes]);
    if (!deflater_->init(s_.compressionLevel) || !inflater_->init()) {
      conn_.close();
      return sdk::Result::failure("zlib initialisation failed");
    }
  }
  return sdk::Result::success();
}

bool AvroSink::exchange(std::span<const sdk::Event> events, rpc::RpcStatus* status,
                        std::string* error) {
  body_.clear();
  rpc::appendCallHeader(body_, "appendBatch");
  rpc::appendEventArray(body_, events);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const int32_t serial = ++serial_;
    rpc::beginRequest(head_, hs_, serial, body_.size());
    std::string_view parts[2] = {head_, body_};
    std::size_t nparts = 2;
    if (deflater_) {
      wire_.clear();
      if (!deflater_->compress(head_.data(), head_.size(), wire_) ||
          !deflater_->compress(body_.data(), body_.size(), wire_)) {
        *error = "deflate failed";
        return false;
      }
      parts[0] = wire_;
      nparts = 1;
    }
    rpc::ResponseFrame frame(limits_);
    AnswerReader reader(frame, inflater_.get(), inflateBuf_.get());
    if (sdk::Result r = conn_.client().request(std::span(parts, nparts), reader); !r) {
      *error = r.error();
      return false;
    }
    if (!frame.answers(serial, error)) return false;
    frame.takePayload(response_);
    std::string why;
    switch (rpc::readCallResponse(response_, hs_, limits_, *status, why)) {
      case rpc::ResponseKind::Status:
        if (hs_.lastMatch != rpc::HandshakeMatch::Both && attempt == 0)
          logger().debug("handshake with ", target_, ": ", rpc::nameOf(hs_.lastMatch));
        return true;
      case rpc::ResponseKind::Resend:
        sinkCounter().increment(kHandshakeNoneCount);
        logger().debug(target_,
                       " does not know this protocol's hash (handshake NONE); "
                       "sending the protocol text");
        continue;
      case rpc::ResponseKind::Error:
        *error = "the next hop answered an error: " + why;
        return false;
      case rpc::ResponseKind::Malformed:
        *error = "bad answer: " + why;
        return false;
    }
  }
  *error = "the next hop refused the handshake even with the protocol text";
  return false;
}

sdk::Status AvroSink::process() {
  sdk::Channel* channel = getChannel();
  if (!channel) return deliveryFailed("no channel attached");
  if (!conn_.opened()) return deliveryFailed("process() before start()");
  sdk::SinkCounter& counter = sinkCounter();
  if (sdk::Result r = connect(); !r)
    return deliveryFailed("cannot connect to " + target_ + ": " + r.error());

  sdk::SinkBatch tx(*this, s_.batchSize);
  if (!tx.ok()) return deliveryFailed(tx.error());
  const std::size_t n = tx.size();
  if (n == 0) return sdk::Status::BACKOFF;

  rpc::RpcStatus status = rpc::RpcStatus::Unknown;
  std::string error;
  if (!exchange(tx.events(), &status, &error)) {
    counter.incrementEventWriteFail();
    tx.rollback();
    conn_.close();  // out of step with the next hop: start over on a new connection
    return deliveryFailed("sending " + std::to_string(n) + " events to " + target_ +
                          " failed: " + error + "; rolled back, to be sent again");
  }
  if (status != rpc::RpcStatus::Ok) {
    // The hop is up but its channels refused the batch (full): keep the connection.
    counter.increment(kBatchRefusedCount);
    tx.rollback();
    return deliveryFailed(target_ + " answered " + rpc::nameOf(status) + " to " +
                          std::to_string(n) + " events; rolled back, to be sent again");
  }
  if (sdk::Result r = tx.commit(); !r) {
    return deliveryFailed("commit to channel '" + channel->getName() + "' failed after " + target_ +
                          " took the batch: " + r.error() + " (the events will be sent again)");
  }
  return n < s_.batchSize ? sdk::Status::BACKOFF : sdk::Status::READY;
}

}  // namespace sluice::plugins::avro_sink
