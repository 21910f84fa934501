#pragma once
// The base of the interceptors that change every event and drop none (host, static, timestamp,
// uuid, remove_header, search_replace, regex_extractor): Derived::apply(sdk::Event&) does the
// work, for one event and for each event of a batch. The batch form is a plain loop, without the
// SDK default's compaction: nothing is dropped. Derived must let the base call apply (public, or
// `friend PerEventInterceptor;`). Header-only.

#include "sluice/sdk/event.hpp"
#include "sluice/sdk/interceptor.hpp"

namespace sluice::plugins::interceptors {

template <class Derived>
class PerEventInterceptor : public sdk::Interceptor {
 public:
  bool intercept(sdk::Event& event) final {
    static_cast<Derived*>(this)->apply(event);
    return true;
  }
  void intercept(sdk::EventBatch& events) final {
    Derived& self = *static_cast<Derived*>(this);
    for (sdk::Event& e : events) self.apply(e);
  }
};

}  // namespace sluice::plugins::interceptors
