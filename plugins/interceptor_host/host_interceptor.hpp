#pragma once
// Flume's HostInterceptor: puts this agent's IP address or host name into a header (default
// "host"). The address is looked up once, when the interceptor is built.

#include <memory>
#include <optional>
#include <string>

#include "per_event_interceptor.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::host {

// The keys this interceptor accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& hostSchema();

// What Java's InetAddress.getLocalHost() gives: the local host name resolved to its first address
// (IPv4 preferred). useIP: that address as text (getHostAddress()); otherwise its canonical name
// from a reverse lookup, or the address text when there is none (getCanonicalHostName()).
// nullopt with *error set when the host name does not resolve. Blocking; control thread only.
std::optional<std::string> localHost(bool useIP, std::string* error);

// Immutable after construction, so intercept() may run on several threads at once.
class HostInterceptor final : public interceptors::PerEventInterceptor<HostInterceptor> {
 public:
  // host: nullopt when the lookup failed; the interceptor then leaves events alone, as Flume's.
  HostInterceptor(std::string header, bool preserveExisting, std::optional<std::string> host)
      : header_(std::move(header)), preserveExisting_(preserveExisting), host_(std::move(host)) {}

  const std::optional<std::string>& host() const noexcept { return host_; }

 private:
  friend PerEventInterceptor;
  void apply(sdk::Event& event) const {
    if (!host_ || (preserveExisting_ && event.headers.contains(header_))) return;
    event.headers.set(header_, *host_);
  }

  const std::string header_;
  const bool preserveExisting_;
  const std::optional<std::string> host_;
};

class HostInterceptorBuilder final : public sdk::InterceptorBuilder {
 public:
  void configure(const sdk::Context& context) override;
  // Looks the host up (blocking), so each build sees the current address.
  std::unique_ptr<sdk::Interceptor> build() override;

 private:
  // Set by configure(); the defaults live in hostSchema() only.
  std::string header_;
  bool useIP_ = false;
  bool preserveExisting_ = false;
};

}  // namespace sluice::plugins::host
