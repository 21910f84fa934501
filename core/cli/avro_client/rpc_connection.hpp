#pragma once
// A blocking client connection to a Flume avro source (or a sluice one): Flume's
// AvroSourceProtocol appendBatch over Avro's Netty framing, with the handshake Java's Requestor
// does. The bytes are plugins/common/avro_rpc's; this class owns the socket and the timeouts.
// One thread; not for the data path of an agent (the avro sink has its own, with TLS and
// compression).

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "plugins/common/avro_rpc.hpp"
#include "sluice/sdk/event.hpp"

namespace sluice::core::cli {

class RpcConnection {
 public:
  RpcConnection(std::string host, int port, std::chrono::milliseconds connectTimeout,
                std::chrono::milliseconds requestTimeout);
  ~RpcConnection();
  RpcConnection(const RpcConnection&) = delete;
  RpcConnection& operator=(const RpcConnection&) = delete;

  // Connects (each address the name resolves to in turn). False with *error saying why.
  bool connect(std::string* error);
  // Sends the events as one appendBatch and waits for the answer. False with *error when the
  // connection failed, the answer did not come within the request timeout, or the source did
  // not answer OK.
  bool appendBatch(std::span<const sdk::Event> events, std::string* error);
  std::string target() const;

 private:
  bool sendAll(const std::string& a, const std::string& b, std::string* error);
  bool readResponse(int32_t serial, std::string* error);

  std::string host_;
  int port_;
  std::chrono::milliseconds connectTimeout_, requestTimeout_;
  std::chrono::steady_clock::time_point deadline_;
  int fd_ = -1;
  int32_t serial_ = 0;
  plugins::avro::RpcLimits limits_;
  plugins::avro::ClientHandshake handshake_;
  std::string head_, body_, response_;
};

}  // namespace sluice::core::cli
