#pragma once
// Flume's UUIDInterceptor (from the morphline Solr sink module): puts a random version 4 UUID,
// optionally prefixed, into a header (default "id"), so that a sink can deduplicate or address
// events by id.

#include <cstdint>
#include <memory>
#include <string>

#include "per_event_interceptor.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::uuid {

// The keys this interceptor accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& uuidSchema();

// Writes a random version 4 UUID as 36 characters of lowercase text (8-4-4-4-12, Java's
// UUID.toString() layout) to out. Lock-free: each thread draws from its own xoshiro256**
// generator, seeded from std::random_device (256 bits) on the thread's first call, so threads
// never contend and never share a sequence.
void randomUuid(char out[36]) noexcept;

// Immutable after construction, so intercept() may run on several threads at once.
class UuidInterceptor final : public interceptors::PerEventInterceptor<UuidInterceptor> {
 public:
  UuidInterceptor(std::string headerName, bool preserveExisting, std::string prefix)
      : headerName_(std::move(headerName)),
        preserveExisting_(preserveExisting),
        prefix_(std::move(prefix)) {}

 private:
  friend PerEventInterceptor;
  void apply(sdk::Event& event) const;

  const std::string headerName_;
  const bool preserveExisting_;
  const std::string prefix_;
};

class UuidInterceptorBuilder final : public sdk::InterceptorBuilder {
 public:
  void configure(const sdk::Context& context) override;
  std::unique_ptr<sdk::Interceptor> build() override;

 private:
  // Set by configure(); the defaults live in uuidSchema() only.
  std::string headerName_;
  bool preserveExisting_ = false;
  std::string prefix_;
};

}  // namespace sluice::plugins::uuid
