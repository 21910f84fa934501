#pragma once
// Interceptors inspect, change or drop events between a source and its channels, as in Flume.
// A component of kind Interceptor is the Builder: configured from the interceptor's keys, it then
// builds the Interceptor. type = com.example.MyInterceptor$Builder and
// type = com.example.MyInterceptor name the same plugin.

#include <memory>

#include "sluice/sdk/component.hpp"
#include "sluice/sdk/event.hpp"
#include "sluice/sdk/result.hpp"

namespace sluice::sdk {

// intercept() runs on the source's threads, possibly several at once, so it must be thread-safe.
class SLUICE_SDK_API Interceptor {
 public:
  virtual ~Interceptor() = default;
  virtual void initialize() {}
  // Changes the event in place. Returns false to drop it.
  virtual bool intercept(Event& event) = 0;
  // The batch form: changes events in place and removes dropped ones, keeping order. It must
  // never add events. The default calls intercept(Event&) and compacts without reallocating.
  virtual void intercept(EventBatch& events) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (!intercept(events[i])) continue;
      if (kept != i) events[kept] = std::move(events[i]);
      ++kept;
    }
    events.erase(events.begin() + static_cast<std::ptrdiff_t>(kept), events.end());
  }
  virtual void close() {}
};

class SLUICE_SDK_API InterceptorBuilder : public PluginObject {
 public:
  virtual std::unique_ptr<Interceptor> build() = 0;
};

}  // namespace sluice::sdk
