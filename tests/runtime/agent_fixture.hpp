#pragma once
// Agents built from .properties text through the real loader, with the built-in plugins and the
// test plugin (tests/plugins), and the checks the runtime tests share: counters by name, and
// the bodies a test.file_sink wrote.

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "core/config/model.hpp"
#include "core/log/logging.hpp"
#include "core/plugin/registry.hpp"
#include "core/runtime/agent.hpp"
#include "tests/runtime/test_support.hpp"

namespace sluice::testing {

struct Fixture {
  core::LogHub logs{sdk::LogLevel::warn};
  core::PluginRegistry registry;
  core::Diagnostics loadDiags;
  Fixture() {
    registry.addDirectory(core::builtinPluginDir(), loadDiags);
    registry.addLibrary(env("SLUICE_TEST_PLUGIN"), loadDiags);
    REQUIRE_FALSE(loadDiags.hasErrors());
  }
  // Builds an agent from .properties text; diags receives every problem.
  std::unique_ptr<core::Agent> build(const std::string& text, core::Diagnostics& diags,
                                     core::AgentOptions opts = {}) {
    core::RawConfig raw = core::parseProperties(text, "test.properties");
    core::AgentConfig cfg = core::buildAgentConfig(raw, "a1", diags);
    if (diags.hasErrors()) return nullptr;
    auto agent = std::make_unique<core::Agent>(registry, logs, opts);
    agent->build(cfg, diags);
    return agent;
  }
  std::unique_ptr<core::Agent> buildOk(const std::string& text, core::AgentOptions opts = {}) {
    core::Diagnostics d;
    auto a = build(text, d, opts);
    std::string all;
    for (const auto& i : d.items()) all += i.message + "\n";
    INFO(all);
    REQUIRE_FALSE(d.hasErrors());
    REQUIRE(a);
    return a;
  }
};

inline int64_t counter(core::Agent& a, const std::string& kind, const std::string& name,
                       const std::string& c) {
  sdk::CounterGroup* g = a.counters(kind, name);
  REQUIRE(g != nullptr);
  auto v = g->get(c);
  REQUIRE(v.has_value());
  return *v;
}

// Lines of a file as a multiset of bodies (first word of each line).
inline std::multiset<std::string> bodies(const std::filesystem::path& p) {
  std::multiset<std::string> out;
  std::istringstream in(readFile(p));
  std::string line;
  while (std::getline(in, line)) out.insert(line.substr(0, line.find(' ')));
  return out;
}

}  // namespace sluice::testing
