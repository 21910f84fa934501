#pragma once
// Internal to the network layer (not for plugins): the Asio context behind TlsContext.

#include <boost/asio/ssl/context.hpp>

#include <string>

#include "tls.hpp"

namespace sluice::plugins::net {

struct TlsContext::Impl {
  Impl(boost::asio::ssl::context c, TlsRole r) : ctx(std::move(c)), role(r) {}
  // Asio's handshakes take a non-const context; the context itself is not changed after it was
  // built (OpenSSL's SSL_CTX is safe to share once configured).
  mutable boost::asio::ssl::context ctx;
  TlsRole role;
};

// The OpenSSL error queue as one line (and the queue cleared).
std::string opensslErrorText();

}  // namespace sluice::plugins::net
