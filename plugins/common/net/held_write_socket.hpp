#pragma once
// Internal to the network layer: the stream between an asio::ssl::stream and its TCP socket on
// the client side, so that a batch leaves in one socket write instead of one per TLS record.
//
// Why: asio::ssl::stream hands the socket one record (at most 16 KiB of plaintext) per write,
// because its OpenSSL BIO pair holds one record, so a 130 KB Avro batch cost eight sends, each
// waking the receiver, where the hand-made wrapper this layer replaced sent it with one (scripts/
// bench.d/avro.sh measured the TLS hop 9% slower, with a fifth more CPU). While hold() is on,
// what the TLS engine writes is appended to a buffer of this stream's own and reported written;
// release() sends the lot with one async_write. Reads, and writes while not held (the handshake,
// the TLS shutdown), go straight to the socket, so nothing waits on a buffer nobody flushes.

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <cstddef>
#include <utility>

#include "byte_buffer.hpp"

namespace sluice::plugins::net {

class HeldWriteSocket {
 public:
  using socket_type = boost::asio::ip::tcp::socket;
  using executor_type = socket_type::executor_type;
  using lowest_layer_type = socket_type::lowest_layer_type;

  explicit HeldWriteSocket(socket_type& s) noexcept : s_(s) {}

  executor_type get_executor() noexcept { return s_.get_executor(); }
  lowest_layer_type& lowest_layer() noexcept { return s_.lowest_layer(); }
  const lowest_layer_type& lowest_layer() const noexcept { return s_.lowest_layer(); }

  // From here on, writes are kept until release(), at most kFlushBytes at a time (a larger batch
  // leaves in writes of that size). The buffer keeps its capacity across batches.
  void hold() noexcept { holding_ = true; }
  // Sends what was kept with one write (an empty write completes at once); holding ends.
  template <class Handler>
  void release(Handler&& h) {
    holding_ = false;
    sendHeld(std::forward<Handler>(h));
  }
  // Forgets what was kept (the connection is being dropped).
  void discard() noexcept {
    holding_ = false;
    forgetHeld();
  }

  template <class MutableBuffers, class Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& h) {
    s_.async_read_some(buffers, std::forward<Handler>(h));
  }

  template <class ConstBuffers, class Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& h) {
    if (!holding_) {
      s_.async_write_some(buffers, std::forward<Handler>(h));
      return;
    }
    if (held_.size() >= kFlushBytes) {
      // The buffer sequence is a view of the TLS engine's output, which stays put until this
      // write completes, so it can be kept while the held bytes go first.
      sendHeld([this, buffers, h = std::forward<Handler>(h)](const boost::system::error_code& ec,
                                                            std::size_t) mutable {
        if (ec) return h(ec, std::size_t{0});
        async_write_some(buffers, std::move(h));
      });
      return;
    }
    std::size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::const_buffer b(*it);
      held_.append(static_cast<const char*>(b.data()), b.size());
      n += b.size();
    }
    // Completed as if sent: posted, since a handler must not run inside its initiating call.
    boost::asio::post(s_.get_executor(), [h = std::forward<Handler>(h), n]() mutable {
      h(boost::system::error_code(), n);
    });
  }

 private:
  static constexpr std::size_t kFlushBytes = std::size_t{1} << 20;

  // Writes the held bytes, then forgets them and calls h(ec, bytes written).
  template <class Handler>
  void sendHeld(Handler&& h) {
    boost::asio::async_write(s_, boost::asio::buffer(held_.data(), held_.size()),
                             [this, h = std::forward<Handler>(h)](
                                 const boost::system::error_code& ec, std::size_t n) mutable {
                               forgetHeld();
                               h(ec, n);
                             });
  }
  void forgetHeld() noexcept {
    held_.clear();
    held_.trim(kFlushBytes);
  }

  socket_type& s_;
  bool holding_ = false;
  ByteBuffer held_;
};

}  // namespace sluice::plugins::net
