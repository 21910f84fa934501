#pragma once
// Internal to the HTTP layer (server_session.cpp, http_client.cpp), the two places that include
// Beast:
//  - BoundedBody: a Beast Body that keeps at most `truncateAt` bytes of a message body and
//    counts, then drops, the rest as it arrives. The parser's body_limit refuses bodies over the
//    hard limit before this is reached; truncation is for the applications that want a head of
//    the body (Flume's BlobHandler with maxBlobLength, the client keeping the start of an error
//    page for its log);
//  - serialize(): runs a Beast serializer and hands every buffer it produces to a function.
//
// It is included first, before any Boost header: Beast 1.74 asserts on states its own parser
// reaches from network input (it re-reads a final chunk whose trailers were incomplete and
// asserts the buffer is at least 5 bytes, which a client decides; found by fuzz_http_session).
// A peer must not be able to abort the agent, and meson's release builds keep assertions
// (b_ndebug=false), so Beast's are off in the two .cpp files that include it; the fuzz target
// runs them under ASan/UBSan.
#ifndef BOOST_DISABLE_ASSERTS
#define BOOST_DISABLE_ASSERTS
#endif
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/optional.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::plugins::http::detail {

struct BoundedBody {
  struct value_type {
    std::string data;
    uint64_t truncateAt = 0;  // 0: keep everything
    uint64_t received = 0;    // body bytes seen, kept or not
    bool truncated() const noexcept { return received > data.size(); }
  };

  static uint64_t size(const value_type& v) noexcept { return v.data.size(); }

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(boost::beast::http::header<isRequest, Fields>&, value_type& b) : b_(b) {}

    void init(const boost::optional<uint64_t>& length, boost::system::error_code& ec) {
      ec = {};
      if (!length) return;
      uint64_t want = *length;
      if (b_.truncateAt > 0) want = std::min(want, b_.truncateAt);
      // The parser's body_limit already refused a length over the hard limit.
      b_.data.reserve(static_cast<std::size_t>(std::min<uint64_t>(want, std::size_t{1} << 30)));
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
      ec = {};
      std::size_t n = 0;
      for (const auto b : boost::beast::buffers_range_ref(buffers)) {
        std::size_t keep = b.size();
        if (b_.truncateAt > 0)
          keep = static_cast<std::size_t>(std::min<uint64_t>(
              keep, b_.truncateAt - std::min(b_.truncateAt, uint64_t{b_.data.size()})));
        b_.data.append(static_cast<const char*>(b.data()), keep);
        n += b.size();
      }
      b_.received += n;
      return n;
    }

    void finish(boost::system::error_code& ec) { ec = {}; }

   private:
    value_type& b_;
  };
};

// Serializes a message (its head alone when headOnly) into out(std::string_view) calls.
template <class Serializer, class Out>
void serialize(Serializer& sr, bool headOnly, Out&& out) {
  sr.split(headOnly);  // the head comes in buffers of its own, so that it can end there
  boost::system::error_code ec;
  do {
    sr.next(ec, [&](boost::system::error_code& e, const auto& buffers) {
      e = {};
      std::size_t n = 0;
      for (const auto b : boost::beast::buffers_range_ref(buffers)) {
        out(std::string_view(static_cast<const char*>(b.data()), b.size()));
        n += b.size();
      }
      sr.consume(n);
    });
  } while (!ec && !(headOnly ? sr.is_header_done() : sr.is_done()));
}

}  // namespace sluice::plugins::http::detail
