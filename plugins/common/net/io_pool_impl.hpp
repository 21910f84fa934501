#pragma once
// Internal to the network layer (not for plugins): the io_contexts behind IoPool.

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <cstddef>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "io_pool.hpp"

namespace sluice::plugins::net {

struct IoPool::Impl {
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  std::string name;
  std::size_t threads = 1;
  sdk::Logger* log = nullptr;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts;
  std::vector<Guard> guards;
  std::vector<std::thread> workers;
  std::atomic<std::size_t> next{0};

  boost::asio::io_context& context(std::size_t i) { return *contexts[i % contexts.size()]; }
  // The context for the next connection or socket, round robin.
  std::size_t pick() noexcept {
    return next.fetch_add(1, std::memory_order_relaxed) % contexts.size();
  }
};

// Runs fn on the context's thread and waits for it; runs it inline when called on that thread.
// Control thread only (stop paths): never from a handler of another context of the same pool
// while that one waits for this, or the two wait for each other.
template <class F>
void runOn(boost::asio::io_context& ctx, F&& fn) noexcept {
  if (ctx.get_executor().running_in_this_thread()) {
    fn();
    return;
  }
  std::promise<void> done;
  std::future<void> waiter = done.get_future();
  boost::asio::post(ctx, [&] {
    fn();
    done.set_value();
  });
  waiter.wait();
}

}  // namespace sluice::plugins::net
