#include "thrift_sink.hpp"

#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "config_keys.hpp"
#include "counter_layout.hpp"
#include "listener.hpp"
#include "net/keys.hpp"
#include "text_util.hpp"
#include "thrift/keys.hpp"

namespace sluice::plugins::thrift_sink {

namespace rpc = sluice::plugins::thrift;

namespace {

// A reply is a Status in a few bytes; anything near this is not a Flume server.
constexpr std::size_t kMaxReplyBytes = std::size_t{1} << 20;

// Reads one reply frame as it arrives and decodes it in place.
class ReplyReader final : public net::ResponseReader {
 public:
  ReplyReader(rpc::ClientCodec& codec, int32_t seqid) : codec_(codec), seqid_(seqid) {}

  Result onData(std::string_view data) override {
    std::size_t n = 0;
    switch (rpc::checkFrame(data, kMaxReplyBytes, &n)) {
      case rpc::FrameCheck::Incomplete:
        return {0, false, nullptr};
      case rpc::FrameCheck::TooLarge:
        return {0, false, "a reply frame larger than 1 MiB"};
      case rpc::FrameCheck::Invalid:
        return {0, false, "a reply frame of negative or zero length"};
      case rpc::FrameCheck::Complete:
        break;
    }
    answer = codec_.reply(data.substr(rpc::kFrameHeaderBytes, n), "appendBatch", seqid_, &status);
    return {rpc::kFrameHeaderBytes + n, true, nullptr};
  }

  sdk::Result answer = sdk::Result::failure("no answer");
  rpc::Status status = rpc::Status::Unknown;

 private:
  rpc::ClientCodec& codec_;
  const int32_t seqid_;
};

}  // namespace

const sdk::Schema& thriftSinkSchema() {
  static const sdk::Schema schema = net::withKeys(
      net::rpcSinkKeys("thrift"),
      std::vector<sdk::Key>{
          net::resetIntervalKey("connection-reset-interval"),
          sdk::Key("reset-connection-interval")
              .longValue()
              .range(0, 31536000)
              .doc("The same as connection-reset-interval (the spelling Flume's code reads)"),
          rpc::protocolKey(
              "Thrift protocol of the next hop's source: compact (Flume's default) or binary"),
          rpc::kerberosKey(),
          rpc::kerberosOnlyKey("client-principal"),
          rpc::kerberosOnlyKey("client-keytab"),
          rpc::kerberosOnlyKey("server-principal"),
          sdk::Key("trustmanager-type")
              .flumeIgnored("accepted and ignored: Java's TrustManagerFactory algorithm (older "
                            "Flume releases), which OpenSSL has no equivalent of"),
          sdk::Key("maxConnections")
              .flumeIgnored("accepted and ignored: the sink sends from its runner thread over one "
                            "connection, without a connection pool"),
      },
      net::tlsClientKeys());
  return schema;
}

ThriftSink::ThriftSink() {
  counter_layout::addInOrder(sinkCounter(), kBatchRefusedCount, {"BatchRefusedCount"},
                             "thrift sink");
}

ThriftSink::~ThriftSink() = default;

void ThriftSink::configure(const sdk::Context& context) {
  ThriftSinkSettings s;
  rpc::refuseKerberos(context,
                      "with a client certificate, ssl.certificate and ssl.key, for a "
                      "source that requires one");
  net::configureRpcSink(context, logger(), s);
  // Flume's user guide documents connection-reset-interval; its AbstractRpcSink reads
  // reset-connection-interval. Both work here (the documented one has the schema's default, 0:
  // never); two different non-zero values are a mistake.
  const int64_t documented = requireLong(context, "connection-reset-interval");
  const std::optional<int64_t> read = context.getLong("reset-connection-interval");
  if (read && documented != 0 && *read != documented)
    context.fail("reset-connection-interval", "is " + std::to_string(*read) +
                                                  " but connection-reset-interval is " +
                                                  std::to_string(documented) + ": set one of them");
  s.resetConnectionInterval = std::chrono::seconds(read.value_or(documented));
  s.protocol = rpc::configureProtocol(context);
  conn_.reset();  // a reload may point the sink elsewhere
  s_ = std::move(s);
  target_ = s_.address();
  configured_ = true;
}

void ThriftSink::start() {
  if (!configured_) throw std::logic_error("thrift sink started before configure()");
  conn_.open(s_, logger(), sinkCounter());
  codec_ = std::make_unique<rpc::ClientCodec>(s_.protocol);
  logger().info("sending to ", target_, " (", rpc::nameOf(s_.protocol), " protocol",
                s_.tls ? ", TLS" : "", ")");
}

void ThriftSink::stop() { conn_.close(); }

bool ThriftSink::exchange(std::span<sdk::Event> events, rpc::Status* status, std::string* error) {
  seqid_ = seqid_ == std::numeric_limits<int32_t>::max() ? 1 : seqid_ + 1;
  const std::string_view frame = codec_->appendBatch(seqid_, events, error);
  if (frame.empty()) return false;
  if (!warnedFrameSize_ && frame.size() - rpc::kFrameHeaderBytes > rpc::kFlumeMaxFrameBytes) {
    warnedFrameSize_ = true;
    logger().warn("a batch of ", events.size(), " events makes a frame of ", frame.size(),
                  " bytes, more than the 16384000 a Flume thrift source (and sluice's, by "
                  "default) accepts; lower batch-size if the next hop closes the connection");
  }
  ReplyReader reader(*codec_, seqid_);
  const std::string_view parts[] = {frame};
  if (sdk::Result r = conn_.client().request(parts, reader); !r) {
    *error = r.error();
    return false;
  }
  if (!reader.answer) {
    *error = reader.answer.error();
    conn_.close();  // out of step with the server: start over on a new connection
    return false;
  }
  *status = reader.status;
  return true;
}

sdk::Status ThriftSink::process() {
  if (!conn_.opened() || !codec_) return deliveryFailed("process() before start()");
  sdk::SinkCounter& counter = sinkCounter();
  if (sdk::Result r = conn_.ready(s_.resetConnectionInterval); !r)
    return deliveryFailed("cannot connect to " + target_ + ": " + r.error());

  sdk::SinkBatch batch(*this, s_.batchSize);
  if (!batch.ok()) return deliveryFailed(batch.error());
  if (batch.empty()) return sdk::Status::BACKOFF;
  const std::size_t n = batch.size();

  rpc::Status status = rpc::Status::Unknown;
  std::string error;
  if (!exchange(batch.events(), &status, &error)) {
    counter.incrementEventWriteFail();
    batch.rollback();
    return deliveryFailed("sending " + std::to_string(n) + " events to " + target_ +
                          " failed: " + error + "; rolled back, to be sent again");
  }
  if (status != rpc::Status::Ok) {
    // The hop is up but did not take the batch (its channels are full): keep the connection.
    counter.increment(kBatchRefusedCount);
    batch.rollback();
    return deliveryFailed(target_ + " answered " + rpc::nameOf(status) + " to " +
                          std::to_string(n) + " events; rolled back, to be sent again");
  }
  if (sdk::Result r = batch.commit(); !r)
    return deliveryFailed("commit to channel '" + getChannel()->getName() + "' failed after " +
                          target_ + " took the batch: " + r.error() +
                          " (the events will be sent again)");
  return n < s_.batchSize ? sdk::Status::BACKOFF : sdk::Status::READY;
}

}  // namespace sluice::plugins::thrift_sink
