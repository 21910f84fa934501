// One connection of a TcpListener: TLS handshake, reading into the session, holding, writing,
// deadlines and the close. Every function here runs on the connection's own I/O thread, except
// resume(), which only posts to it.
//
// Reading without TLS is reactor style: wait until the socket is readable, then read without
// blocking into the thread's shared buffer, behind a copy of the few bytes the connection kept
// from last time. An idle connection thus owns no read buffer at all. Asio's epoll reactor is
// edge-triggered, so the socket is only waited on once it was drained (a read that said "would
// block" or returned less than asked for); a read that filled the whole chunk posts the next one
// instead, letting other connections have a turn.
// With TLS, Asio's stream reads into a per-connection buffer of one record.

#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <cstring>

#include "listener_core.hpp"
#include "tls_impl.hpp"

namespace sluice::plugins::net {

using boost::system::error_code;

ConnectionImpl::ConnectionImpl(std::shared_ptr<TcpListener::Core> core, std::size_t worker,
                               tcp::socket s)
    : core_(std::move(core)), worker_(worker), socket_(std::move(s)) {}

ConnectionImpl::~ConnectionImpl() = default;

void ConnectionImpl::begin() noexcept {
  auto self = shared_from_this();
  TcpListener::Core& core = *core_;
  core.add(self);
  since_ = lastActivity_ = Clock::now();
  if (core.stopping.load(std::memory_order_acquire)) return closeNow();
  error_code ec;
  const tcp::endpoint ep = socket_.remote_endpoint(ec);
  if (ec) return closeNow();  // gone before its turn came
  try {
    peer_ = endpointText(ep);
    peerIp_ = peer_.substr(0, peer_.rfind(':'));
    if (!peerIp_.empty() && peerIp_.front() == '[') peerIp_ = peerIp_.substr(1, peerIp_.size() - 2);
    socket_.non_blocking(true, ec);
    if (core.o.noDelay) socket_.set_option(tcp::no_delay(true), ec);
    if (core.o.ipFilter) {
      sockaddr_storage ss{};
      std::memcpy(&ss, ep.data(), std::min<std::size_t>(ep.size(), sizeof ss));
      if (!core.o.ipFilter->allows(ss)) {
        core.stats->add(Stat::Denied);
        core.log.debug("ipFilterRules denied a connection from ", peer_);
        return closeNow();
      }
    }
    core.stats->add(Stat::Accepted);
    core.log.debug("connection from ", peer_);
    if (core.o.tls) {
      state_ = State::Handshaking;
      tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, core.o.tls->impl().ctx);
      tls_->async_handshake(asio::ssl::stream_base::server,
                            [self](const error_code& e) { self->onHandshake(e); });
      return;
    }
  } catch (const std::exception& e) {
    core.stats->add(Stat::Errors);
    core.errorLog.emit("cannot take the connection from ", peer_, ": ", e.what());
    return closeNow();
  }
  openSession();
}

void ConnectionImpl::onHandshake(const error_code& ec) noexcept {
  if (state_ != State::Handshaking) return;  // closed meanwhile (handshake timeout, stop)
  if (ec) {
    core_->stats->add(Stat::TlsFailed);
    core_->tlsLog.emit("TLS handshake with ", peer_, " failed: ", ec.message());
    return closeNow();
  }
  try {
    tlsBuf_.reset(new char[kTlsChunk]);
  } catch (const std::exception&) {
    core_->stats->add(Stat::Errors);
    return closeNow();
  }
  openSession();
}

void ConnectionImpl::openSession() noexcept {
  try {
    session_ = core_->protocol.open(*this);
  } catch (const std::exception& e) {
    core_->stats->add(Stat::Errors);
    core_->errorLog.emit("cannot open a session for ", peer_, ": ", e.what());
  }
  if (!session_) return closeNow();
  state_ = State::Open;
  lastActivity_ = Clock::now();
  readMore();
}

bool ConnectionImpl::canRead() const noexcept {
  return state_ == State::Open && !held_ && !outputPaused_ && !reading_ && !closeRequested_ &&
         !yieldPending_;
}

void ConnectionImpl::readMore() noexcept {
  if (!canRead()) return;
  if (tls_)
    readTls();
  else
    readPlain();
}

void ConnectionImpl::waitReadable() noexcept {
  reading_ = true;
  socket_.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
    self->reading_ = false;
    if (ec) return;  // aborted: the connection closed
    if (self->state_ == State::Lingering) return self->drainLinger();
    self->readMore();
  });
}

void ConnectionImpl::readPlain() noexcept {
  TcpListener::Core& core = *core_;
  const std::size_t chunk = core.o.readChunkBytes;
  for (;;) {  // loops only when a read was interrupted
    if (!canRead()) return;
    const std::size_t pre = carry_.size();
    const bool inlineCarry = pre <= TcpListener::Core::kInlineCarry;
    char* dst = nullptr;
    try {
      dst = inlineCarry ? core.readBuffer(worker_) + pre : carry_.tail(chunk);
    } catch (const std::exception& e) {
      core.stats->add(Stat::Errors);
      core.errorLog.emit("closing ", peer_, ": ", e.what());
      return abort(CloseReason::Error);
    }
    error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(dst, chunk), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return waitReadable();
    if (ec == asio::error::interrupted) continue;
    if (ec) return onReadError(ec);
    core.stats->add(Stat::BytesIn, static_cast<int64_t>(n));
    lastActivity_ = Clock::now();
    bool more;
    if (inlineCarry) {
      char* buf = core.readBuffer(worker_);
      if (pre > 0) std::memcpy(buf, carry_.data(), pre);
      carry_.clear();
      more = deliver(buf, pre + n, false);
    } else {
      carry_.commit(n);
      more = deliver(carry_.data(), carry_.size(), true);
    }
    if (!more) return;
    // A TCP read returns all that is queued up to its size: a partial one drained the socket,
    // and bytes arriving later raise a new edge, which the wait sees. A full one leaves more
    // behind: read it after the other connections had their turn.
    if (n < chunk) return waitReadable();
    break;
  }
  try {
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->readMore(); });
  } catch (const std::exception&) {
    waitReadable();  // no memory for the post: a wait costs nothing more
  }
}

void ConnectionImpl::readTls() noexcept {
  reading_ = true;
  try {
    tls_->async_read_some(asio::buffer(tlsBuf_.get(), kTlsChunk),
                          [self = shared_from_this()](const error_code& ec, std::size_t n) {
                            self->onTlsRead(ec, n);
                          });
  } catch (const std::exception& e) {
    reading_ = false;
    core_->stats->add(Stat::Errors);
    core_->errorLog.emit("closing ", peer_, ": ", e.what());
    abort(CloseReason::Error);
  }
}

void ConnectionImpl::onTlsRead(const error_code& ec, std::size_t n) noexcept {
  reading_ = false;
  if (state_ == State::Closing && tlsShutdownAfterRead_) return startTlsShutdown();
  if (state_ != State::Open) return;
  if (ec) return onReadError(ec);
  core_->stats->add(Stat::BytesIn, static_cast<int64_t>(n));
  lastActivity_ = Clock::now();
  bool more;
  if (carry_.empty()) {
    more = deliver(tlsBuf_.get(), n, false);
  } else {
    try {
      carry_.append(tlsBuf_.get(), n);
    } catch (const std::exception&) {
      core_->stats->add(Stat::Errors);
      return abort(CloseReason::Error);
    }
    more = deliver(carry_.data(), carry_.size(), true);
  }
  if (more) readMore();
}

void ConnectionImpl::onReadError(const error_code& ec) noexcept {
  if (ec == asio::error::operation_aborted) return;
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
    // The peer finished sending: replies still go out before the close.
    return closeGracefully(CloseReason::PeerClosed);
  }
  core_->stats->add(Stat::Errors);
  core_->log.debug("reading from ", peer_, " failed: ", ec.message());
  abort(CloseReason::Error);
}

bool ConnectionImpl::deliver(const char* data, std::size_t len, bool inCarry) noexcept {
  TcpListener::Core& core = *core_;
  Step step;
  inCallback_ = true;
  try {
    step = session_->onData(*this, std::string_view(data, len));
  } catch (const std::exception& e) {
    inCallback_ = false;
    core.stats->add(Stat::Errors);
    core.errorLog.emit("closing ", peer_, ": ", e.what());
    abort(CloseReason::Error);
    return false;
  } catch (...) {
    inCallback_ = false;
    core.stats->add(Stat::Errors);
    core.errorLog.emit("closing ", peer_, ": unknown exception from the protocol");
    abort(CloseReason::Error);
    return false;
  }
  inCallback_ = false;
  const std::size_t consumed = std::min(step.consumed, len);
  const std::size_t keep = len - consumed;
  try {
    if (inCarry)
      carry_.consume(consumed);
    else
      carry_.assign(data + consumed, keep);
  } catch (const std::exception&) {
    core.stats->add(Stat::Errors);
    abort(CloseReason::Error);
    return false;
  }
  // When did the request in progress begin? A session that marks it knows; otherwise kept bytes
  // are the start of one, begun at this read if this read completed an earlier one. A client
  // that streams lines is thus never slow, one that trickles a single line is.
  if (inRequest_) {
    if (requestStart_ == Clock::time_point::max()) requestStart_ = Clock::now();
  } else if (keep > 0) {
    if (consumed > 0 || requestStart_ == Clock::time_point::max()) requestStart_ = Clock::now();
  } else {
    requestStart_ = Clock::time_point::max();
  }
  if (!writing_ && !out_.empty() && state_ == State::Open) startWrite();
  if (closeRequested_) {
    closeGracefully(CloseReason::Closed);
    return false;
  }
  if (state_ != State::Open) return false;
  switch (step.next) {
    case Next::Read:
      if (keep > core.o.maxBufferedInputBytes) {
        core.stats->add(Stat::InputOverflow);
        core.overflowLog.emit("closing ", peer_, ": ", keep,
                              " bytes of input without a complete request (the limit is ",
                              core.o.maxBufferedInputBytes, ")");
        closeGracefully(CloseReason::InputOverflow);
        return false;
      }
      if (pendingOutput() >= core.o.maxPendingOutputBytes) {
        outputPaused_ = true;  // onWrite reads again once the peer took its replies
        return false;
      }
      return true;
    case Next::Yield:
      yieldPending_ = true;
      try {
        asio::post(socket_.get_executor(), [self = shared_from_this()] {
          self->yieldPending_ = false;
          self->reoffer(true);
        });
      } catch (const std::exception&) {
        yieldPending_ = false;
        return true;
      }
      return false;
    case Next::Hold: {
      held_ = true;
      const uint64_t generation = ++holdGeneration_;
      requestStart_ = Clock::time_point::max();  // the wait is ours, not the client's
      if (step.retryAfter.count() > 0) {
        try {
          if (!retry_) retry_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
          retry_->expires_after(step.retryAfter);
          retry_->async_wait([self = shared_from_this(), generation](const error_code& ec) {
            if (!ec) self->endHold(generation);
          });
        } catch (const std::exception&) {
          held_ = false;  // cannot wait: offer again right away instead
          return true;
        }
      }
      return false;
    }
    case Next::Close:
      closeGracefully(CloseReason::Closed);
      return false;
  }
  return false;
}

void ConnectionImpl::reoffer(bool always) noexcept {
  if (state_ != State::Open || held_ || closeRequested_) return;
  if (carry_.empty() && !always) return readMore();
  if (deliver(carry_.data(), carry_.size(), true)) readMore();
}

void ConnectionImpl::resume() noexcept {
  try {
    // Generation 0: whichever hold is on when it runs.
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->endHold(0); });
  } catch (const std::exception&) {
    // No memory to post: a hold with retryAfter still ends on its own.
  }
}

void ConnectionImpl::endHold(uint64_t generation) noexcept {
  if (!held_ || state_ != State::Open) return;
  if (generation != 0 && generation != holdGeneration_) return;  // a timer of an earlier hold
  held_ = false;
  if (retry_) retry_->cancel();
  lastActivity_ = Clock::now();
  if (!carry_.empty()) requestStart_ = lastActivity_;
  reoffer(true);
}

void ConnectionImpl::send(std::string_view bytes) {
  if (bytes.empty() || state_ == State::Lingering || state_ == State::Closed) return;
  out_.append(bytes);
  if (!inCallback_ && !writing_) startWrite();
}

void ConnectionImpl::startWrite() noexcept {
  if (out_.empty() || writing_) return;
  wbuf_.swap(out_);
  writing_ = true;
  writeStart_ = Clock::now();
  auto done = [self = shared_from_this()](const error_code& ec, std::size_t n) {
    self->onWrite(ec, n);
  };
  try {
    if (tls_)
      asio::async_write(*tls_, asio::buffer(wbuf_.data(), wbuf_.size()), std::move(done));
    else
      asio::async_write(socket_, asio::buffer(wbuf_.data(), wbuf_.size()), std::move(done));
  } catch (const std::exception&) {
    writing_ = false;
    core_->stats->add(Stat::Errors);
    abort(CloseReason::Error);
  }
}

void ConnectionImpl::onWrite(const error_code& ec, std::size_t n) noexcept {
  writing_ = false;
  if (state_ == State::Closed || state_ == State::Lingering) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    core_->stats->add(Stat::Errors);
    core_->log.debug("writing to ", peer_, " failed: ", ec.message());
    return abort(CloseReason::Error);
  }
  core_->stats->add(Stat::BytesOut, static_cast<int64_t>(n));
  wbuf_.clear();
  wbuf_.trim(1 << 20);
  lastActivity_ = Clock::now();
  if (!out_.empty()) startWrite();
  if (state_ == State::Closing) {
    if (!writing_) finishClose();
    return;
  }
  if (outputPaused_ && pendingOutput() < core_->o.maxPendingOutputBytes) {
    outputPaused_ = false;
    reoffer(false);
  }
}

void ConnectionImpl::close() noexcept {
  if (inCallback_) {
    closeRequested_ = true;  // acted on when the session returns
    return;
  }
  closeGracefully(CloseReason::Closed);
}

void ConnectionImpl::stopGracefully() noexcept { closeGracefully(CloseReason::Stopping); }

void ConnectionImpl::closeGracefully(CloseReason why) noexcept {
  if (state_ == State::Closing || state_ == State::Lingering || state_ == State::Closed) return;
  reason_ = why;
  if (state_ != State::Open) return closeNow();
  auto self = shared_from_this();
  state_ = State::Closing;
  since_ = Clock::now();
  held_ = false;
  if (retry_) retry_->cancel();
  notifyClose();  // the session may queue a last reply
  if (state_ != State::Closing) return;
  if (writing_) return;  // onWrite finishes
  if (!out_.empty()) return startWrite();
  finishClose();
}

void ConnectionImpl::notifyClose() noexcept {
  if (closeNotified_ || !session_) return;
  closeNotified_ = true;
  inCallback_ = true;
  try {
    session_->onClose(*this, reason_);
  } catch (...) {
    // onClose is noexcept by contract; a session that throws anyway only loses its last word.
  }
  inCallback_ = false;
  session_.reset();  // after this the protocol is never called for this connection again
}

void ConnectionImpl::finishClose() noexcept {
  error_code ignored;
  since_ = Clock::now();
  if (tls_) {
    if (reading_) {
      // One TLS operation at a time may read: cancel the pending read, then shut down.
      tlsShutdownAfterRead_ = true;
      socket_.cancel(ignored);
      return;
    }
    return startTlsShutdown();
  }
  // Our FIN after the replies; then the peer's remaining input is read and dropped until its
  // own FIN (or lingerTimeout), so that closing with unread input does not send a reset that
  // could destroy replies still in flight.
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  state_ = State::Lingering;
  if (!reading_) drainLinger();
}

void ConnectionImpl::startTlsShutdown() noexcept {
  state_ = State::Lingering;
  since_ = Clock::now();
  try {
    // Sends close_notify and waits for the peer's (bounded by lingerTimeout in the sweep).
    tls_->async_shutdown([self = shared_from_this()](const error_code&) { self->closeNow(); });
  } catch (const std::exception&) {
    closeNow();
  }
}

void ConnectionImpl::drainLinger() noexcept {
  char* buf = core_->readBuffer(worker_);
  for (int round = 0; round < 16; ++round) {
    error_code ec;
    socket_.read_some(asio::buffer(buf, core_->o.readChunkBytes), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return waitReadable();
    if (ec == asio::error::interrupted) continue;
    if (ec) return closeNow();  // end of stream (or reset): done
  }
  try {
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::Lingering) self->drainLinger();
    });
  } catch (const std::exception&) {
    closeNow();
  }
}

void ConnectionImpl::abort(CloseReason why) noexcept {
  if (state_ == State::Closed) return;
  if (state_ == State::Open) reason_ = why;
  closeNow();
}

void ConnectionImpl::closeNow() noexcept {
  if (state_ == State::Closed) return;
  auto self = shared_from_this();
  notifyClose();
  state_ = State::Closed;
  error_code ignored;
  socket_.close(ignored);  // pending operations end with operation_aborted
  if (retry_) retry_->cancel();
  core_->stats->add(Stat::Closed);
  core_->log.debug("closed the connection from ", peer_, ": ", nameOf(reason_));
  core_->remove(*this);
}

void ConnectionImpl::sweep(Clock::time_point now) noexcept {
  TcpListener::Core& core = *core_;
  const ListenerOptions& o = core.o;
  switch (state_) {
    case State::Starting:
    case State::Closed:
      return;
    case State::Handshaking:
      if (now - since_ > o.handshakeTimeout) {
        core.stats->add(Stat::TlsFailed);
        core.tlsLog.emit("TLS handshake with ", peer_, " did not complete within ",
                         o.handshakeTimeout.count(), " ms");
        reason_ = CloseReason::RequestTimeout;
        closeNow();
      }
      return;
    case State::Closing:
      if (now - since_ > o.closeTimeout) closeNow();
      return;
    case State::Lingering:
      if (now - since_ > o.lingerTimeout) closeNow();
      return;
    case State::Open:
      break;
  }
  if (o.writeTimeout.count() > 0 && writing_ && now - writeStart_ > o.writeTimeout) {
    core.stats->add(Stat::WriteTimedOut);
    core.timeoutLog.emit("closing ", peer_, ": it did not take its replies within ",
                         o.writeTimeout.count(), " ms");
    return abort(CloseReason::WriteTimeout);
  }
  if (held_) return;  // waiting for our side: neither idle nor slow
  if (o.requestTimeout.count() > 0 && requestStart_ != Clock::time_point::max() &&
      now - requestStart_ > o.requestTimeout) {
    core.stats->add(Stat::RequestTimedOut);
    core.timeoutLog.emit("closing ", peer_, ": a request did not complete within ",
                         o.requestTimeout.count(), " ms");
    return closeGracefully(CloseReason::RequestTimeout);
  }
  if (o.idleTimeout.count() > 0 && !writing_ && now - lastActivity_ > o.idleTimeout) {
    core.stats->add(Stat::IdleClosed);
    core.log.debug("closing ", peer_, ": idle for ", o.idleTimeout.count(), " ms");
    return closeGracefully(CloseReason::IdleTimeout);
  }
}

}  // namespace sluice::plugins::net
