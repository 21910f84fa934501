#pragma once
// Sink selectors order the sinks of a load_balance sink group for each batch (Flume's
// LoadBalancingSinkProcessor.SinkSelector). Built in: round_robin and random. A custom one is a
// plugin of kind SinkSelector, named in the group's config:
//
//   a1.sinkgroups.g1.processor.type = load_balance
//   a1.sinkgroups.g1.processor.selector = com.example.MySelector
//   a1.sinkgroups.g1.processor.selector.weights = 3 1     <- the selector's own keys
//
// The host keeps Flume's backoff for every selector (processor.backoff and
// processor.selector.maxTimeOut): a sink that failed is left out of the order until its backoff
// ends, so a selector only decides the order of the sinks that may be tried.

#include <cstddef>
#include <utility>
#include <vector>

#include "sluice/sdk/component.hpp"
#include "sluice/sdk/result.hpp"
#include "sluice/sdk/sink.hpp"

namespace sluice::sdk {

// configure() receives the "processor.selector." keys with that prefix removed (maxTimeOut is the
// host's). The host sets the sinks before configure(). order() and the inform*() calls run on
// the group's one runner thread, so a selector needs no locking.
class SLUICE_SDK_API SinkSelector : public PluginObject {
 public:
  // Set by the host before configure().
  const std::vector<Sink*>& getSinks() const noexcept { return sinks_; }

  // Reorders `candidates` (indices into getSinks(), the sinks not backed off, in config order)
  // into the order to try them for the next batch; the first one that delivers wins. It may also
  // drop candidates. `candidates` has capacity for every sink, so reordering never allocates.
  virtual void order(std::vector<std::size_t>& candidates) = 0;
  // The sink at `index` failed (it is then backed off by the host if backoff is on) or delivered.
  virtual void informSinkFailed(std::size_t index) { (void)index; }
  virtual void informSinkSucceeded(std::size_t index) { (void)index; }

 private:
  friend struct HostAccess;
  std::vector<Sink*> sinks_;
};

}  // namespace sluice::sdk
