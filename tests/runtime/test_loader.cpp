// The plugin loader against real shared objects: the built-in plugins, a test plugin, and
// libraries that must be refused.

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/plugin/registry.hpp"
#include "plugins/testing/skip.hpp"
#include "sluice/sdk/host_access.hpp"
#include "sluice/sdk/version.hpp"
#include "tests/runtime/test_support.hpp"

using namespace sluice;
using namespace sluice::core;
using sluice::testing::env;
using sluice::testing::TempDir;
namespace fs = std::filesystem;

namespace {
std::string allMessages(const Diagnostics& d) {
  std::string s;
  for (const auto& i : d.items()) s += i.message + "\n";
  return s;
}

// Whether the process has `file` mapped (/proc/self/maps names every mapped file).
bool mapped(const fs::path& file) {
  std::ifstream maps("/proc/self/maps");
  const std::string name = fs::weakly_canonical(file).string();
  for (std::string line; std::getline(maps, line);)
    if (line.size() >= name.size() &&
        line.compare(line.size() - name.size(), name.size(), name) == 0)
      return true;
  return false;
}
}  // namespace

TEST_CASE("built-in plugins load and resolve by Flume aliases, class names and case") {
  PluginRegistry reg;
  Diagnostics d;
  reg.addDirectory(builtinPluginDir(), d);
  INFO(allMessages(d));
  CHECK_FALSE(d.hasErrors());
  const auto* mem = reg.resolve(sdk::ComponentKind::Channel, "memory");
  REQUIRE(mem != nullptr);
  CHECK(mem->info->type == "memory");
  CHECK(reg.resolve(sdk::ComponentKind::Channel, "MEMORY") == mem);
  CHECK(reg.resolve(sdk::ComponentKind::Channel, "org.apache.flume.channel.MemoryChannel") == mem);
  CHECK(reg.resolve(sdk::ComponentKind::Source, "seq") != nullptr);
  CHECK(reg.resolve(sdk::ComponentKind::Source, "org.apache.flume.source.SequenceGeneratorSource") != nullptr);
  CHECK(reg.resolve(sdk::ComponentKind::Sink, "logger") != nullptr);
  CHECK(reg.resolve(sdk::ComponentKind::Sink, "org.apache.flume.sink.LoggerSink") != nullptr);
  CHECK(reg.resolve(sdk::ComponentKind::ChannelSelector, "replicating") != nullptr);
  CHECK(reg.resolve(sdk::ComponentKind::ChannelSelector, "Multiplexing") != nullptr);
  // A type of one kind does not resolve as another kind.
  CHECK(reg.resolve(sdk::ComponentKind::Sink, "memory") == nullptr);
}

TEST_CASE("every built-in resolves by Flume's class name, as a Flume config writes it") {
  PluginRegistry reg;
  Diagnostics d;
  reg.addDirectory(builtinPluginDir(), d);
  REQUIRE_FALSE(d.hasErrors());
  using K = sdk::ComponentKind;
  const struct {
    K kind;
    const char* alias;
    const char* className;
  } table[] = {
      {K::Source, "netcat", "org.apache.flume.source.NetcatSource"},
      {K::Source, "exec", "org.apache.flume.source.ExecSource"},
      {K::Source, "spooldir", "org.apache.flume.source.SpoolDirectorySource"},
      {K::Source, "TAILDIR", "org.apache.flume.source.taildir.TaildirSource"},
      {K::Source, "seq", "org.apache.flume.source.SequenceGeneratorSource"},
      {K::Source, "org.apache.flume.source.StressSource", "org.apache.flume.source.StressSource"},
      {K::Channel, "memory", "org.apache.flume.channel.MemoryChannel"},
      {K::Channel, "file", "org.apache.flume.channel.file.FileChannel"},
      {K::Channel, "SPILLABLEMEMORY", "org.apache.flume.channel.SpillableMemoryChannel"},
      {K::Sink, "logger", "org.apache.flume.sink.LoggerSink"},
      {K::Sink, "null", "org.apache.flume.sink.NullSink"},
      {K::Sink, "file_roll", "org.apache.flume.sink.RollingFileSink"},
      {K::Sink, "hdfs", "org.apache.flume.sink.hdfs.HDFSEventSink"},
      {K::Interceptor, "timestamp", "org.apache.flume.interceptor.TimestampInterceptor$Builder"},
      {K::Interceptor, "host", "org.apache.flume.interceptor.HostInterceptor$Builder"},
      {K::Interceptor, "static", "org.apache.flume.interceptor.StaticInterceptor$Builder"},
      {K::Interceptor, "remove_header",
       "org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder"},
      {K::Interceptor, "uuid", "org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder"},
      {K::Interceptor, "regex_filter",
       "org.apache.flume.interceptor.RegexFilteringInterceptor$Builder"},
      {K::Interceptor, "regex_extractor",
       "org.apache.flume.interceptor.RegexExtractorInterceptor$Builder"},
      {K::Interceptor, "search_replace",
       "org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder"},
      {K::ChannelSelector, "replicating", "org.apache.flume.channel.ReplicatingChannelSelector"},
      {K::ChannelSelector, "multiplexing", "org.apache.flume.channel.MultiplexingChannelSelector"},
      {K::ChannelSelector, "load_balancing",
       "org.apache.flume.channel.LoadBalancingChannelSelector"},
  };
  for (const auto& row : table) {
    CAPTURE(row.className);
    const auto* byAlias = reg.resolve(row.kind, row.alias);
    REQUIRE(byAlias != nullptr);
    CHECK(reg.resolve(row.kind, row.className) == byAlias);
  }
}

TEST_CASE("unknown type lists the closest known types") {
  PluginRegistry reg;
  Diagnostics d;
  reg.addDirectory(builtinPluginDir(), d);
  std::string msg = reg.unknownTypeMessage(sdk::ComponentKind::Channel, "memroy");
  CHECK(msg.find("unknown channel type 'memroy'") != std::string::npos);
  CHECK(msg.find("did you mean 'memory'") != std::string::npos);
}

TEST_CASE("a library built for another ABI is refused, naming the file and both versions") {
  PluginRegistry reg;
  Diagnostics d;
  CHECK_FALSE(reg.addLibrary(env("SLUICE_TEST_BAD_ABI"), d));
  std::string m = allMessages(d);
  CHECK(m.find(fs::path(env("SLUICE_TEST_BAD_ABI")).filename().string()) != std::string::npos);
  CHECK(m.find("99.7") != std::string::npos);
  const std::string host = std::to_string(SLUICE_SDK_ABI_MAJOR) + "." + std::to_string(SLUICE_SDK_ABI_MINOR);
  CHECK(m.find("this sluice has SDK ABI " + host) != std::string::npos);
}

TEST_CASE("another ABI major is refused from the file alone: the library's code never runs") {
  // bad_abi's static constructor calls abort(): reaching it would end this test process. It is
  // refused as a file and in a directory scan.
  TempDir tmp;
  fs::create_directories(tmp / "plugins");
  fs::copy_file(env("SLUICE_TEST_BAD_ABI"), tmp / "plugins" / "libcrash.so");
  ::chmod((tmp / "plugins" / "libcrash.so").c_str(), 0755);
  PluginRegistry reg;
  Diagnostics d;
  reg.addDirectory(tmp / "plugins", d);
  const std::string m = allMessages(d);
  CHECK(m.find("libcrash.so") != std::string::npos);
  CHECK(m.find("built for SDK ABI 99.7") != std::string::npos);
  CHECK(reg.components().empty());
}

TEST_CASE("a plugin of the SDK ABI 1 layout is refused from its file, asking for a rebuild") {
  // old_abi has only the ABI 1 descriptor (sluice_plugin_v1) and a constructor that aborts.
  PluginRegistry reg;
  Diagnostics d;
  CHECK_FALSE(reg.addLibrary(env("SLUICE_TEST_OLD_ABI"), d));
  const std::string m = allMessages(d);
  CHECK(m.find(fs::path(env("SLUICE_TEST_OLD_ABI")).filename().string()) != std::string::npos);
  CHECK(m.find("built for SDK ABI 1.x") != std::string::npos);
  CHECK(m.find("rebuild the plugin") != std::string::npos);
}

TEST_CASE("two libraries declaring one type: the second is refused, naming both files") {
  PluginRegistry reg;
  Diagnostics d;
  CHECK(reg.addLibrary(env("SLUICE_TEST_DUP_A"), d));
  CHECK_FALSE(reg.addLibrary(env("SLUICE_TEST_DUP_B"), d));
  std::string m = allMessages(d);
  CHECK(m.find("libdup-a.so") != std::string::npos);
  CHECK(m.find("libdup-b.so") != std::string::npos);
  CHECK(m.find("test.dup") != std::string::npos);
  const auto* c = reg.resolve(sdk::ComponentKind::Sink, "test.dup");
  REQUIRE(c != nullptr);
  CHECK(c->pluginName == "dup-a");
}

TEST_CASE("a library that lists its types is mapped only when a type of it is first resolved") {
  PluginRegistry reg;
  Diagnostics d;
  reg.addDirectory(builtinPluginDir(), d);
  REQUIRE_FALSE(d.hasErrors());
  const fs::path thrift = builtinPluginDir() / "libsluice-source-thrift.so";
  REQUIRE(fs::exists(thrift));
  CHECK_FALSE(mapped(thrift));
  // Listed without loading: the status page's catalog, and "did you mean" over waiting types.
  bool listed = false;
  for (const auto& e : reg.catalog())
    if (e.file == fs::weakly_canonical(thrift)) listed = !e.loaded && e.types.size() == 1;
  CHECK(listed);
  CHECK(reg.unknownTypeMessage(sdk::ComponentKind::Source, "thirft").find("'thrift'") !=
        std::string::npos);
  CHECK_FALSE(mapped(thrift));
  const auto* c = reg.resolve(sdk::ComponentKind::Source, "org.apache.flume.source.ThriftSource");
  REQUIRE(c != nullptr);
  CHECK(c->info->type == "thrift");
  CHECK(mapped(thrift));
  CHECK(reg.resolve(sdk::ComponentKind::Source, "THRIFT") == c);
}

TEST_CASE("a listed library is checked against its manifest when loaded, and clashes are seen") {
  PluginRegistry reg;
  Diagnostics d;
  // lazy-ok lists exactly what its manifest has: it waits, then resolves.
  CHECK(reg.addLibrary(env("SLUICE_TEST_LAZY_OK"), d));
  CHECK_FALSE(mapped(env("SLUICE_TEST_LAZY_OK")));
  // dup-a provides the same type: refused from the list alone, naming lazy-ok's file.
  CHECK_FALSE(reg.addLibrary(env("SLUICE_TEST_DUP_A"), d));
  CHECK(allMessages(d).find("liblazy-ok.so") != std::string::npos);
  const auto* c = reg.resolve(sdk::ComponentKind::Sink, "test.dup");
  REQUIRE(c != nullptr);
  CHECK(c->pluginName == "lazy-ok");

  // lazy-bad lists a type its manifest lacks: accepted at the scan, refused when first used,
  // and the unknown-type message says why.
  PluginRegistry reg2;
  Diagnostics d2;
  CHECK(reg2.addLibrary(env("SLUICE_TEST_LAZY_BAD"), d2));
  CHECK(reg2.resolve(sdk::ComponentKind::Sink, "test.other") == nullptr);
  const std::string m = reg2.unknownTypeMessage(sdk::ComponentKind::Sink, "test.other");
  CHECK(m.find("liblazy-bad.so") != std::string::npos);
  CHECK(m.find("SLUICE_PLUGIN_TYPES") != std::string::npos);
  CHECK(reg2.resolve(sdk::ComponentKind::Sink, "test.dup") == nullptr);
  CHECK(reg2.refusals().size() == 1);
}

TEST_CASE("a missing file and a library that is not a plugin are refused with a reason") {
  PluginRegistry reg;
  Diagnostics d;
  CHECK_FALSE(reg.addLibrary("/nonexistent/libnothing.so", d));
  CHECK(allMessages(d).find("/nonexistent/libnothing.so") != std::string::npos);
  Diagnostics d2;
  CHECK_FALSE(reg.addLibrary(env("SLUICE_TEST_NOT_PLUGIN"), d2));
  CHECK(allMessages(d2).find("not a sluice plugin") != std::string::npos);
  TempDir tmp;
  sluice::testing::writeFile(tmp / "libgarbage.so", "this is not an ELF file");
  Diagnostics d3;
  CHECK_FALSE(reg.addLibrary(tmp / "libgarbage.so", d3));
  CHECK(allMessages(d3).find("libgarbage.so") != std::string::npos);
}

TEST_CASE("a plugin file writable by others is refused unless allowed") {
  TempDir tmp;
  fs::copy_file(env("SLUICE_TEST_PLUGIN"), tmp / "libt.so");
  ::chmod((tmp / "libt.so").c_str(), 0666);
  {
    PluginRegistry reg;
    Diagnostics d;
    CHECK_FALSE(reg.addLibrary(tmp / "libt.so", d));
    CHECK(allMessages(d).find("writable by group or others") != std::string::npos);
  }
  {
    LoaderOptions o;
    o.allowInsecurePermissions = true;
    PluginRegistry reg(o);
    Diagnostics d;
    CHECK(reg.addLibrary(tmp / "libt.so", d));
  }
}

TEST_CASE("a plugin in a directory writable by others is refused, naming it, unless allowed") {
  TempDir tmp;
  const fs::path dir = tmp / "shared";
  fs::create_directories(dir / "lib");
  fs::copy_file(env("SLUICE_TEST_PLUGIN"), dir / "lib" / "libt.so");
  ::chmod((dir / "lib" / "libt.so").c_str(), 0755);
  ::chmod((dir / "lib").c_str(), 0755);
  ::chmod(dir.c_str(), 0777);  // anyone could swap lib/ for a directory of their own
  {
    PluginRegistry reg;
    Diagnostics d;
    CHECK_FALSE(reg.addLibrary(dir / "lib" / "libt.so", d));
    const std::string m = allMessages(d);
    CHECK(m.find("directory '" + fs::weakly_canonical(dir).string() +
                 "' is writable by group or others") != std::string::npos);
    CHECK(m.find("--allow-insecure-plugins") != std::string::npos);
    CHECK(reg.resolve(sdk::ComponentKind::Source, "test.header_seq") == nullptr);
  }
  {
    LoaderOptions o;
    o.allowInsecurePermissions = true;
    PluginRegistry reg(o);
    Diagnostics d;
    CHECK(reg.addLibrary(dir / "lib" / "libt.so", d));
    CHECK(reg.resolve(sdk::ComponentKind::Source, "test.header_seq") != nullptr);
  }
  // With the sticky bit (as /tmp has) others cannot rename or delete what they do not own in
  // it: accepted.
  ::chmod(dir.c_str(), 01777);
  {
    PluginRegistry reg;
    Diagnostics d;
    INFO(allMessages(d));
    CHECK(reg.addLibrary(dir / "lib" / "libt.so", d));
  }
}

TEST_CASE("in a sticky shared directory, a plugin directory of another user is refused" *
          sluice::plugins::testing::skipUnless(::geteuid() == 0,
                                               "giving a directory to another user needs root")) {
  TempDir tmp;
  const fs::path sticky = tmp / "sticky";
  fs::create_directories(sticky / "theirs");
  fs::copy_file(env("SLUICE_TEST_PLUGIN"), sticky / "theirs" / "libt.so");
  ::chmod((sticky / "theirs" / "libt.so").c_str(), 0755);
  ::chmod((sticky / "theirs").c_str(), 0755);
  ::chmod(sticky.c_str(), 01777);
  REQUIRE(::chown((sticky / "theirs").c_str(), 4242, 4242) == 0);
  PluginRegistry reg;
  Diagnostics d;
  CHECK_FALSE(reg.addLibrary(sticky / "theirs" / "libt.so", d));
  CHECK(allMessages(d).find("belongs to another user (uid 4242)") != std::string::npos);
}

TEST_CASE("Flume's plugins.d layout is scanned and $Builder suffixes resolve") {
  TempDir tmp;
  fs::create_directories(tmp / "plugins.d" / "mine" / "lib");
  fs::copy_file(env("SLUICE_TEST_PLUGIN"), tmp / "plugins.d" / "mine" / "lib" / "libmine.so");
  ::chmod((tmp / "plugins.d" / "mine" / "lib" / "libmine.so").c_str(), 0755);
  PluginRegistry reg;
  Diagnostics d;
  reg.addDirectory(tmp / "plugins.d", d);
  INFO(allMessages(d));
  CHECK_FALSE(d.hasErrors());
  CHECK(reg.resolve(sdk::ComponentKind::Source, "test.header_seq") != nullptr);
  CHECK(reg.resolve(sdk::ComponentKind::Source, "HeaderSeq") != nullptr);
  // Interceptor builders: "X$Builder" and "X" are one name (checked on the built-in set if any).
  for (const auto& c : reg.components())
    if (c.info->kind == sdk::ComponentKind::Interceptor)
      CHECK(reg.resolve(sdk::ComponentKind::Interceptor, c.info->type + "$Builder") != nullptr);
}

TEST_CASE("objects keep their library loaded after the registry is gone") {
  PluginPtr<sdk::Source> src(nullptr, {});
  {
    PluginRegistry reg;
    Diagnostics d;
    REQUIRE(reg.addLibrary(env("SLUICE_TEST_PLUGIN"), d));
    const auto* c = reg.resolve(sdk::ComponentKind::Source, "test.header_seq");
    REQUIRE(c != nullptr);
    std::string err;
    src = reg.create<sdk::Source>(*c, err);
    REQUIRE(src);
  }
  // The registry is destroyed; the object's vtable still lives in the mapped library.
  sdk::Context ctx("a1.sources.r1");
  ctx.put("totalEvents", "3");
  CHECK(sdk::HostAccess::configure(*src, ctx).ok());
  CHECK(src->asPollable() != nullptr);
  src.reset();
}
