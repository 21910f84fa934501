#pragma once
// For plugin unit tests only: the README's key table must list exactly the schema's keys, with
// the same type, default and description, so `sluice describe` and the docs never disagree.
// Each row looks like: | `key` | type | `default`, required or — | description |

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "sluice/sdk/schema.hpp"

namespace sluice::plugins::testing {

inline void checkReadmeMatchesSchema(const sdk::Schema& schema, const char* path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), (std::string("cannot read ") + path));
  auto clean = [](std::string s) {
    while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    while (!s.empty() && s.back() == ' ') s.pop_back();
    if (s.size() >= 2 && s.front() == '`' && s.back() == '`') s = s.substr(1, s.size() - 2);
    return s == "—" ? std::string() : s;
  };
  std::map<std::string, std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::size_t from = 1;
    for (std::size_t to; (to = line.find(" |", from)) != std::string::npos; from = to + 2)
      cells.push_back(clean(line.substr(from, to - from)));
    REQUIRE_MESSAGE(cells.size() == 4, line);
    rows[cells[0]] = cells;
  }
  CHECK(rows.size() == schema.keys.size());
  for (const sdk::Key& k : schema.keys) {
    REQUIRE_MESSAGE(rows.count(k.name) == 1, "README lacks key ", k.name);
    const auto& r = rows[k.name];
    CHECK_MESSAGE(r[1] == sdk::nameOf(k.type), k.name);
    CHECK_MESSAGE(r[2] == (k.required ? std::string("required") : k.defaultValue), k.name);
    CHECK_MESSAGE(r[3] == k.description, k.name);
  }
}

}  // namespace sluice::plugins::testing
