#pragma once
// Flume's TimestampInterceptor: puts the time the event was intercepted, in milliseconds since
// the epoch, into a header (default "timestamp"), optionally keeping a value already there.

#include <memory>
#include <string>

#include "per_event_interceptor.hpp"
#include "sluice/sdk/context.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"
#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::timestamp {

// The keys this interceptor accepts; README.md's table must match it (a unit test checks).
const sdk::Schema& timestampSchema();

// Immutable after construction, so intercept() may run on several threads at once.
class TimestampInterceptor final : public interceptors::PerEventInterceptor<TimestampInterceptor> {
 public:
  TimestampInterceptor(std::string headerName, bool preserveExisting)
      : headerName_(std::move(headerName)), preserveExisting_(preserveExisting) {}

 private:
  friend PerEventInterceptor;
  void apply(sdk::Event& event) const;

  const std::string headerName_;
  const bool preserveExisting_;
};

class TimestampInterceptorBuilder final : public sdk::InterceptorBuilder {
 public:
  void configure(const sdk::Context& context) override;
  std::unique_ptr<sdk::Interceptor> build() override;

 private:
  std::string headerName_;  // set by configure(); the default lives in timestampSchema()
  bool preserveExisting_ = false;
};

}  // namespace sluice::plugins::timestamp
