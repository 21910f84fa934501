// Config filters and ${VAR} at the parser level (core/config/substitution.hpp), as Flume 1.10+
// applies them: env and external filters with real environment variables and real scripts.

#include <sys/stat.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/config/model.hpp"
#include "core/config/substitution.hpp"
#include "tests/runtime/test_support.hpp"

using namespace sluice::core;
using sluice::testing::TempDir;
using sluice::testing::writeFile;

namespace {

const std::string kFile = "conf/a.properties";

std::string all(const Diagnostics& d, Diagnostic::Severity s) {
  std::string out;
  for (const auto& i : d.items())
    if (i.severity == s) out += i.message + "\n";
  return out;
}
std::string errors(const Diagnostics& d) { return all(d, Diagnostic::Severity::Error); }
std::string warnings(const Diagnostics& d) { return all(d, Diagnostic::Severity::Warning); }

std::string value(const RawConfig& raw, const std::string& key) {
  auto it = raw.entries.find(key);
  REQUIRE(it != raw.entries.end());
  return it->second.value;
}

// A script the external filter runs: `body` gets the key as $1.
std::string script(const TempDir& dir, const std::string& name, const std::string& body) {
  const auto path = dir / name;
  writeFile(path, "#!/bin/sh\n" + body);
  REQUIRE(::chmod(path.c_str(), 0755) == 0);
  return path.string();
}

}  // namespace

TEST_CASE(
    "env filter: ${f1['K']}, ${f1[\"K\"]} and ${f1[K]}, several in a value; values are secrets") {
  ::setenv("SLUICE_T_USER", "scott", 1);
  ::setenv("SLUICE_T_PASS", "tiger-42", 1);
  ::setenv("SLUICE_T_HOST", "db.example", 1);
  RawConfig raw = parseProperties(
      "a1.configfilters = f1\n"
      "a1.configfilters.f1.type = env\n"
      "a1.sinks.k1.url = jdbc://${f1['SLUICE_T_USER']}:${f1[\"SLUICE_T_PASS\"]}@"
      "${f1[SLUICE_T_HOST]}/x\n"
      "a1.sinks.k1.other = ${f2['SLUICE_T_USER']} ${f1['SLUICE_T_USER\"]}\n",
      kFile);
  Diagnostics d;
  const auto secrets = applySubstitutions(raw, {}, d);
  CHECK_MESSAGE(d.items().empty(), std::string(errors(d) + warnings(d)));
  CHECK(value(raw, "a1.sinks.k1.url") == "jdbc://scott:tiger-42@db.example/x");
  // Another filter's name and mismatched quotes are not references: left as written.
  CHECK(value(raw, "a1.sinks.k1.other") == "${f2['SLUICE_T_USER']} ${f1['SLUICE_T_USER\"]}");
  CHECK(std::find(secrets.begin(), secrets.end(), "tiger-42") != secrets.end());
  CHECK(std::find(secrets.begin(), secrets.end(), "scott") != secrets.end());
  // The class name works as the type, any case, and filters apply in the listed order.
  RawConfig byClass = parseProperties(
      "a1.configfilters = f1\n"
      "a1.configfilters.f1.type = org.apache.flume.configfilter.EnvironmentVariableConfigFilter\n"
      "a1.sources.r1.port = ${f1['SLUICE_T_HOST']}\n",
      kFile);
  Diagnostics c;
  (void)applySubstitutions(byClass, {}, c);
  CHECK(value(byClass, "a1.sources.r1.port") == "db.example");
  // An unset variable: Flume leaves the reference as written; sluice too, with a warning.
  ::unsetenv("SLUICE_T_UNSET");
  RawConfig unset = parseProperties(
      "a1.configfilters = f1\na1.configfilters.f1.type = env\n"
      "a1.sinks.k1.password = ${f1['SLUICE_T_UNSET']}\n",
      kFile);
  Diagnostics u;
  (void)applySubstitutions(unset, {}, u);
  CHECK_FALSE(u.hasErrors());
  CHECK(warnings(u).find("a1.sinks.k1.password: config filter 'f1' (env): environment variable "
                         "'SLUICE_T_UNSET' is not set (conf/a.properties:3); the reference is "
                         "left as written") != std::string::npos);
  CHECK(value(unset, "a1.sinks.k1.password") == "${f1['SLUICE_T_UNSET']}");
}

TEST_CASE("external filter: the command's first output line, with the key as its argument") {
  TempDir dir;
  const std::string ok = script(dir, "secret.sh", "echo \"value-of-$1\"\n");
  RawConfig raw = parseProperties(
      "a1.configfilters = f1 f2\n"
      "a1.configfilters.f1.type = external\n"
      "a1.configfilters.f1.command = " +
          ok +
          "\n"
          "a1.configfilters.f1.charset = UTF-8\n"
          "a1.configfilters.f2.type = org.apache.flume.configfilter.ExternalProcessConfigFilter\n"
          "a1.configfilters.f2.command = /bin/echo prefix\n"
          "a1.sinks.k1.password = ${f1['db_password']}\n"
          "a1.sinks.k1.path = /data/${f2['x-y']}/${f1['dir']}\n",
      kFile);
  Diagnostics d;
  const auto secrets = applySubstitutions(raw, {}, d);
  CHECK_MESSAGE(d.items().empty(), std::string(errors(d) + warnings(d)));
  CHECK(value(raw, "a1.sinks.k1.password") == "value-of-db_password");
  // `command` is split on whitespace and the key appended, as Flume's Runtime.exec.
  CHECK(value(raw, "a1.sinks.k1.path") == "/data/prefix x-y/value-of-dir");
  CHECK(std::find(secrets.begin(), secrets.end(), "value-of-db_password") != secrets.end());
  // The filter's own keys are not filtered and not component keys.
  CHECK(isConfigFilterKey("a1.configfilters"));
  CHECK(isConfigFilterKey("a1.configfilters.f1.command"));
  CHECK_FALSE(isConfigFilterKey("a1.configfiltersx"));
}

TEST_CASE("external filter failures are config errors naming filter, key and file:line") {
  TempDir dir;
  const std::string failing = script(dir, "fail.sh", "echo \"no such secret: $1\" >&2\nexit 3\n");
  const std::string slow = script(dir, "slow.sh", "exec sleep 10\n");
  const std::string silent = script(dir, "silent.sh", "exit 0\n");
  RawConfig raw = parseProperties(
      "a1.configfilters = bad slow none silent\n"
      "a1.configfilters.bad.type = external\n"
      "a1.configfilters.bad.command = " +
          failing +
          "\n"
          "a1.configfilters.slow.type = external\n"
          "a1.configfilters.slow.command = " +
          slow +
          "\n"
          "a1.configfilters.slow.timeout = 300\n"
          "a1.configfilters.none.type = external\n"
          "a1.configfilters.none.command = " +
          (dir / "missing.sh").string() +
          "\n"
          "a1.configfilters.silent.type = external\n"
          "a1.configfilters.silent.command = " +
          silent +
          "\n"
          "a1.sinks.k1.a = ${bad['k1']}\n"
          "a1.sinks.k1.b = ${slow['k2']}\n"
          "a1.sinks.k1.c = ${none['k3']}\n"
          "a1.sinks.k1.d = ${silent['k4']}\n",
      kFile);
  Diagnostics d;
  const auto started = std::chrono::steady_clock::now();
  (void)applySubstitutions(raw, {}, d);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
  const std::string e = errors(d);
  INFO(e);
  CHECK(e.find("a1.sinks.k1.a: config filter 'bad' (external, command '" + failing +
               "') for key 'k1': the command exited with status 3 (stderr: no such secret: k1) "
               "(conf/a.properties:11)") != std::string::npos);
  CHECK(e.find("a1.sinks.k1.b: config filter 'slow' (external, command '" + slow +
               "') for key 'k2': no answer within 300 ms; the command was killed (raise "
               "a1.configfilters.slow.timeout) (conf/a.properties:12)") != std::string::npos);
  CHECK(e.find("a1.sinks.k1.c: config filter 'none'") != std::string::npos);
  CHECK(e.find("for key 'k3': cannot run the command: No such file or directory "
               "(conf/a.properties:13)") != std::string::npos);
  CHECK(e.find("a1.sinks.k1.d: config filter 'silent'") != std::string::npos);
  CHECK(e.find("for key 'k4': the command printed nothing (conf/a.properties:14)") !=
        std::string::npos);
  CHECK(d.errorCount() == 4);
}

TEST_CASE("config filter declarations: hadoop rejected with the reason, missing and unknown keys") {
  RawConfig raw = parseProperties(
      "a1.configfilters = h1 h2 x1 e1\n"
      "a1.configfilters.h1.type = hadoop\n"
      "a1.configfilters.h2.type = org.apache.flume.configfilter.HadoopCredentialStoreConfigFilter\n"
      "a1.configfilters.x1.type = external\n"
      "a1.configfilters.e1.type = env\n"
      "a1.configfilters.e1.comand = x\n",
      kFile);
  Diagnostics d;
  (void)applySubstitutions(raw, {}, d);
  const std::string e = errors(d);
  INFO(e);
  CHECK(e.find("a1.configfilters.h1.type: the hadoop credential-store filter is not supported: "
               "it reads a Hadoop CredentialProvider keystore through Hadoop's Java libraries, "
               "which a native agent does not have; use type = external") != std::string::npos);
  CHECK(e.find("a1.configfilters.h2.type: the hadoop credential-store filter is not supported") !=
        std::string::npos);
  CHECK(e.find("a1.configfilters.x1: missing required key 'command'") != std::string::npos);
  // An unknown key: a warning in .properties (Flume ignores it), an error under --strict.
  CHECK(warnings(d).find("a1.configfilters.e1.comand: unknown key for config filter type 'env' "
                         "(conf/a.properties:6); Flume ignores") != std::string::npos);
  Diagnostics strict;
  SubstitutionOptions so;
  so.strict = true;
  RawConfig again = raw;
  (void)applySubstitutions(again, so, strict);
  CHECK(errors(strict).find("a1.configfilters.e1.comand: unknown key") != std::string::npos);
}

TEST_CASE("${VAR}: .properties only with EnvVarResolverProperties, TOML always; unset variables") {
  ::setenv("SLUICE_T_PORT", "44444", 1);
  ::unsetenv("SLUICE_T_NOPE");
  const std::string text =
      "a1.sources.r1.port = ${SLUICE_T_PORT}\n"
      "a1.sources.r1.bind = x${SLUICE_T_NOPE}y\n"
      "a1.sources.r1.keep = ${not a var} $SLUICE_T_PORT ${}\n";
  // Without -DpropertiesImplementation: Flume's plain java.util.Properties, nothing substituted.
  RawConfig plain = parseProperties(text, kFile);
  Diagnostics p;
  (void)applySubstitutions(plain, {}, p);
  CHECK(p.items().empty());
  CHECK(value(plain, "a1.sources.r1.port") == "${SLUICE_T_PORT}");
  // With it: substituted; an unset variable becomes empty, as EnvVarResolverProperties does it.
  RawConfig env = parseProperties(text, kFile);
  SubstitutionOptions so;
  so.propertiesEnvVars = true;
  Diagnostics d;
  (void)applySubstitutions(env, so, d);
  CHECK_FALSE(d.hasErrors());
  CHECK(value(env, "a1.sources.r1.port") == "44444");
  CHECK(value(env, "a1.sources.r1.bind") == "xy");
  CHECK(value(env, "a1.sources.r1.keep") == "${not a var} $SLUICE_T_PORT ${}");
  CHECK(warnings(d).find("a1.sources.r1.bind: environment variable 'SLUICE_T_NOPE' is not set; "
                         "the reference is replaced by nothing, as Flume's "
                         "EnvVarResolverProperties does (conf/a.properties:2)") !=
        std::string::npos);
  // TOML: always substituted, and an unset variable is an error (sluice's own, strict, format).
  RawConfig toml = parseToml(
      "[a1.sources.r1]\nport = \"${SLUICE_T_PORT}\"\nbind = \"${SLUICE_T_NOPE}\"\n"
      "group = \"$${name} and $${SLUICE_T_PORT}\"\n",
      "a.toml");
  Diagnostics t;
  (void)applySubstitutions(toml, {}, t);
  CHECK(value(toml, "a1.sources.r1.port") == "44444");
  // "$${" writes a literal "${" in TOML (a search_replace named group).
  CHECK(value(toml, "a1.sources.r1.group") == "${name} and ${SLUICE_T_PORT}");
  CHECK(errors(t).find("a1.sources.r1.bind: environment variable 'SLUICE_T_NOPE' is not set "
                       "(a.toml:3)") != std::string::npos);
}
