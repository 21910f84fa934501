#include "io_pool.hpp"

#include <pthread.h>

#include <algorithm>

#include "io_pool_impl.hpp"

namespace sluice::plugins::net {

IoPool::IoPool(std::string name, std::size_t threads) : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->threads = threads == 0 ? defaultThreads() : threads;
}

IoPool::~IoPool() { stop(); }

std::size_t IoPool::defaultThreads() noexcept {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
}

std::size_t IoPool::halfCoreThreads() noexcept {
  return std::clamp<std::size_t>(std::thread::hardware_concurrency() / 2, 1, 4);
}

std::size_t IoPool::size() const noexcept { return impl_->threads; }
bool IoPool::running() const noexcept { return !impl_->workers.empty(); }

sdk::Result IoPool::start(sdk::Logger& log) noexcept {
  Impl& p = *impl_;
  if (!p.workers.empty()) return sdk::Result::success();
  p.log = &log;
  try {
    p.contexts.clear();
    for (std::size_t i = 0; i < p.threads; ++i) {
      // One thread per context: Asio may skip some locking, and handlers of one context never
      // run concurrently.
      p.contexts.push_back(std::make_unique<boost::asio::io_context>(1));
      p.guards.emplace_back(p.contexts.back()->get_executor());
    }
    for (std::size_t i = 0; i < p.threads; ++i) {
      p.workers.emplace_back([&p, i] {
        // "sluice-<name>-<i>" within Linux's 15 characters: the name is cut, never the index.
        const std::string index = std::string("-").append(std::to_string(i));
        const std::string tag = "sluice-" + p.name.substr(0, 15 - 7 - index.size()) + index;
        ::pthread_setname_np(::pthread_self(), tag.c_str());
        boost::asio::io_context& ctx = *p.contexts[i];
        // A handler that throws (out of memory) must not end the thread: Asio allows run() to
        // be called again, and the layer's handlers have already closed what they were serving.
        for (;;) {
          try {
            ctx.run();
            return;
          } catch (const std::exception& e) {
            p.log->error("I/O thread ", tag, ": ", e.what(), "; continuing");
          } catch (...) {
            p.log->error("I/O thread ", tag, ": unknown exception; continuing");
          }
        }
      });
    }
  } catch (const std::exception& e) {
    stop();
    return sdk::Result::failure(std::string("cannot start the I/O threads: ") + e.what());
  }
  return sdk::Result::success();
}

void IoPool::stop() noexcept {
  Impl& p = *impl_;
  p.guards.clear();
  for (auto& c : p.contexts) c->stop();
  for (auto& t : p.workers)
    if (t.joinable()) t.join();
  p.workers.clear();
  // Destroying a context destroys the handlers still queued on it (and what they own).
  p.contexts.clear();
}

}  // namespace sluice::plugins::net
