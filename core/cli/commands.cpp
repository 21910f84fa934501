#include "core/cli/commands.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "core/cli/agent_loop.hpp"
#include "core/cli/session.hpp"
#include "core/config/model.hpp"
#include "core/monitoring/monitor.hpp"
#include "core/monitoring/options.hpp"
#include "core/plugin/host_schemas.hpp"
#include "core/plugin/registry.hpp"
#include "core/install_dirs.hpp"
#include "core/runtime/agent.hpp"
#include "plugins/common/text_util.hpp"
#include "sluice/sdk/version.hpp"

#ifdef SLUICE_ALLOCATOR_MIMALLOC
#include <mimalloc.h>
#endif

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.0.0"
#endif

namespace sluice::core::cli {
namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// Also what keeps the linker (--as-needed) from dropping libmimalloc, whose malloc replaces
// glibc's for the whole process only while it is a NEEDED library of the executable.
std::string allocatorName() {
#ifdef SLUICE_ALLOCATOR_MIMALLOC
  const int v = mi_version();
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
         std::to_string(v % 10);
#else
  return "system (glibc malloc)";
#endif
}

// Where plugins are looked for without a config: the built-in directory (found from the
// binary's own path, else the installed plugindir), then SLUICE_PLUGINS_PATH. --plugins-path and
// a config's plugins.path add more (see loadPlugins in session.cpp).
void printPluginDirs(std::ostream& os) {
  std::error_code ec;
  auto line = [&](const std::string& dir, const char* why) {
    os << "plugins: " << dir << " (" << why << (fs::is_directory(dir, ec) ? "" : ", missing")
       << ")\n";
  };
  line(builtinPluginDir().string(), "built-in");
  if (const char* env = std::getenv("SLUICE_PLUGINS_PATH"))
    for (const auto& d : plugins::text::split(env, ":")) line(d, "SLUICE_PLUGINS_PATH");
}

constexpr const char* kUsage =
    "usage: sluice <command> [options]\n"
    "\n"
    "commands:\n"
    "  agent      run an agent:      sluice agent -n a1 -f conf/a.toml\n"
    "  validate   check a config:    sluice validate [--strict] -n a1 -f conf/a.properties\n"
    "  plugins    list every component type the plugin directories provide\n"
    "  describe   print a type's keys: sluice describe memory\n"
    "  channel-check  check a file channel's directories offline:\n"
    "             sluice channel-check --checkpoint-dir D --data-dirs D1,D2 [--drop-corrupt]\n"
    "  avro-client  send a file's or stdin's lines as events to an avro source (Flume's):\n"
    "             sluice avro-client -H host -p 41414 [-F file | --dirname dir] [-R headers]\n"
    "  version    print the version and plugin ABI\n"
    "\n"
    "`sluice <command> --help` shows the command's options.\n";

void addCommon(po::options_description& d, CommonOptions& o, bool needsConfig) {
  d.add_options()("help,h", "show this help");
  if (needsConfig)
    d.add_options()
      ("name,n", po::value(&o.agent), "agent name (may be omitted when the file has one agent)")
      ("conf-file,f", po::value(&o.confFiles)->composing(),
       "config file: .toml, or Flume .properties; may repeat: merged in order, a later file's "
       "key wins")
      ("conf-uri,u", po::value(&o.confUris)->composing(),
       "config URI (http://, https://, file://); may repeat; merged before the -f files")
      ("conf-user", po::value(&o.confUser), "user for --conf-uri (HTTP Basic authorization)")
      ("conf-password", po::value(&o.confPassword), "password for --conf-uri (never logged)")
      ("poll-interval,i", po::value(&o.pollIntervalSec),
       "seconds between checks of the config sources for a change (default 300 for URIs, "
       "--reload-interval for files)")
      ("backup-directory,b", po::value(&o.backupDir),
       "keep the last configuration accepted from --conf-uri here (.<agent>.properties); used "
       "when the server is unreachable at start")
      ("zkConnString,z", po::value(&o.zkConnect),
       "ZooKeeper host:port[,host:port]: the config is the znode <zkBasePath>/<agent>, watched")
      ("zkBasePath,p", po::value(&o.zkBasePath), "ZooKeeper base path (default /flume)")
      ("conf,c", po::value(&o.confDir), "config directory; a relative --conf-file is looked up in it")
      ("lenient", po::bool_switch(&o.lenient),
       "as Flume: drop broken components (a batchSize above its channel's transactionCapacity, "
       "...) and start the rest, instead of refusing to start")
      ("strict", po::bool_switch(&o.strict),
       "a key no component knows is an error in a Flume .properties config too (by default a "
       "warning there, as Flume ignores it; TOML is always strict); for CI pipelines");
  d.add_options()
    ("plugins-path", po::value(&o.pluginsPaths)->composing(),
     "plugin directories (':'-separated, may repeat); Flume's plugins.d layout is understood")
    (",D", po::value(&o.defines)->composing(),
     "-Dkey=value: override a config key (-Da1.channels.c1.capacity=5000), or a Flume switch "
     "(-Dflume.root.logger=DEBUG,console)")
    ("log-level", po::value(&o.logLevel), "trace, debug, info (default), warn, error")
    ("log-file-max-size", po::value(&o.logFileMaxSize),
     "with -Dflume.root.logger=INFO,LOGFILE: rotate the log file at this size (default 100MB, "
     "as Flume; 0: never, for logrotate)")
    ("log-file-max-files", po::value(&o.logFileMaxFiles),
     "rotated log files kept (default 20, as Flume)")
    ("allow-insecure-plugins", po::bool_switch(&o.allowInsecurePlugins),
     "load plugin files even if group or others can write them");
}

bool parse(po::options_description& desc, int argc, char** argv, po::variables_map& vm,
           po::positional_options_description* pos = nullptr) {
  try {
    auto parser = po::command_line_parser(argc, argv).options(desc);
    if (pos) parser.positional(*pos);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n\n" << desc;
    return false;
  }
  return true;
}

std::vector<monitoring::PluginSnapshot> pluginList(const PluginRegistry& registry) {
  std::vector<monitoring::PluginSnapshot> out;
  for (auto& e : registry.catalog())
    out.push_back({e.pluginName, e.loaded ? e.pluginVersion : "not loaded", e.file.string(),
                   std::move(e.types)});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

int cmdAgent(int argc, char** argv) {
  CommonOptions o;
  po::options_description desc("sluice agent options");
  addCommon(desc, o, true);
  desc.add_options()
    ("drain-timeout", po::value(&o.drainTimeoutMs)->default_value(5000),
     "on stop, ms to let sinks write what their channels hold")
    ("no-reload-conf", po::bool_switch(&o.noReload),
     "do not watch the config sources (Flume's --no-reload-conf)")
    ("reload-interval", po::value(&o.reloadIntervalSec)->default_value(30),
     "seconds between config file polls; changes seen by inotify apply at once")
    ("monitor-port", po::value(&o.monitorPort),
     "serve the monitoring endpoints (/metrics, /metrics/prometheus, /health, /ready, /config, "
     "status page at /) on this port; 0 picks a free one (logged). Same as Flume's "
     "-Dflume.monitoring.type=http -Dflume.monitoring.port=N")
    ("monitor-bind", po::value(&o.monitorBind),
     "address the monitoring server listens on (default 127.0.0.1, config key monitoring.bind)");
  po::variables_map vm;
  if (!parse(desc, argc, argv, vm)) return 2;
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  if (o.reloadIntervalSec < 1) {
    std::cerr << "error: --reload-interval must be >= 1 second\n";
    return 2;
  }

  AgentLoop::blockSignals();  // before any thread starts

  Session s;
  std::unique_ptr<Agent> holder;
  AgentOptions aopts;
  aopts.drainTimeout = std::chrono::milliseconds(o.drainTimeoutMs);
  int rc = prepare(o, s, holder, aopts, true);
  if (rc >= 0) return rc;

  // Monitoring. Its thread reads the agent only through `provider`, which never waits: while the
  // agent starts, reloads or stops (agentMutex held) the last snapshot is served instead.
  s.monitoring.port = o.monitorPort;
  s.monitoring.bind = o.monitorBind;
  Diagnostics monitorDiags;
  auto mset = monitoring::resolveSettings(s.raw, s.monitoring, monitorDiags);
  printDiagnostics(monitorDiags, std::cerr, s.logs->secrets());
  if (!mset) return 1;
  std::mutex agentMutex;
  std::unique_ptr<monitoring::Monitor> monitor;
  if (mset->enabled) {
    auto provider = [&](monitoring::Snapshot& snap) {
      std::unique_lock lock(agentMutex, std::try_to_lock);
      if (!lock.owns_lock() || !holder) return false;
      monitoring::snapshotAgent(*holder, snap);
      return true;
    };
    monitor = std::make_unique<monitoring::Monitor>(
        mset->options, provider, pluginList(*s.registry), mset->effective, SLUICE_VERSION,
        s.logs->core("monitoring"), &s.logs->secrets());
    sdk::Result mr = monitor->start();
    if (!mr) {
      std::cerr << "error: " << s.logs->secrets().mask(mr.error()) << "\n";
      return 1;
    }
  }

  rc = AgentLoop(s, holder, agentMutex, {!o.noReload}).run();
  if (monitor) monitor->stop();
  s.logs->flush();
  return rc;
}

int cmdValidate(int argc, char** argv) {
  CommonOptions o;
  po::options_description desc("sluice validate [FILE] options");
  addCommon(desc, o, true);
  // `sluice validate a1.properties` as well as `-f a1.properties`.
  po::positional_options_description pos;
  pos.add("conf-file", 1);
  po::variables_map vm;
  if (!parse(desc, argc, argv, vm, &pos)) return 2;
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  Session s;
  std::unique_ptr<Agent> holder;
  o.logLevel = o.logLevel.empty() ? "warn" : o.logLevel;
  int rc = prepare(o, s, holder, AgentOptions{}, false);
  return rc >= 0 ? rc : 0;
}

int cmdPlugins(int argc, char** argv) {
  CommonOptions o;
  po::options_description desc("sluice plugins options");
  addCommon(desc, o, false);
  po::variables_map vm;
  if (!parse(desc, argc, argv, vm)) return 2;
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  Session s;
  o.logLevel = "warn";
  if (!openSession(o, s)) return 2;
  auto comps = s.registry->components();
  std::sort(comps.begin(), comps.end(), [](const auto& a, const auto& b) {
    return std::tie(a.info->kind, a.info->type) < std::tie(b.info->kind, b.info->type);
  });
  for (const auto& c : comps) {
    std::cout << sdk::nameOf(c.info->kind) << "\t" << c.info->type << "\t";
    for (std::size_t i = 0; i < c.info->aliases.size(); ++i)
      std::cout << (i ? "," : "") << c.info->aliases[i];
    if (c.info->aliases.empty()) std::cout << "-";
    std::cout << "\t" << sdk::nameOf(c.info->stability) << "\t" << c.pluginName << " "
              << c.pluginVersion << "\t" << c.file.string() << "\n";
  }
  printDiagnostics(s.pluginDiags, std::cerr, s.logs->secrets());
  return 0;
}

int cmdDescribe(int argc, char** argv) {
  CommonOptions o;
  std::string type;
  po::options_description desc("sluice describe <type> options");
  addCommon(desc, o, false);
  desc.add_options()("type", po::value(&type), "component type or alias");
  po::positional_options_description pos;
  pos.add("type", 1);
  po::variables_map vm;
  if (!parse(desc, argc, argv, vm, &pos)) return 2;
  if (vm.count("help") || type.empty()) {
    std::cout << "usage: sluice describe <type>\n" << desc;
    return type.empty() && !vm.count("help") ? 2 : 0;
  }
  Session s;
  o.logLevel = "warn";
  if (!openSession(o, s)) return 2;
  int found = 0;
  for (auto kind : {sdk::ComponentKind::Source, sdk::ComponentKind::Channel,
                    sdk::ComponentKind::Sink, sdk::ComponentKind::Interceptor,
                    sdk::ComponentKind::ChannelSelector, sdk::ComponentKind::SinkSelector,
                    sdk::ComponentKind::EventSerializer, sdk::ComponentKind::HttpHandler}) {
    const RegisteredComponent* c = s.registry->resolve(kind, type);
    if (!c) continue;
    ++found;
    const auto& i = *c->info;
    std::cout << sdk::nameOf(i.kind) << " " << i.type << " (" << sdk::nameOf(i.stability)
              << ", from " << c->file.string() << ")\n";
    if (!i.description.empty()) std::cout << "  " << i.description << "\n";
    if (!i.aliases.empty()) {
      std::cout << "  aliases:";
      for (const auto& a : i.aliases) std::cout << " " << a;
      std::cout << "\n";
    }
    std::cout << describeKeys(i.schema);
  }
  // Keys the host reads itself: sink processors (failover, load_balance) and monitoring.
  if (const HostSchema* h = findHostSchema(type)) {
    ++found;
    std::cout << describeHostSchema(*h);
  }
  if (!found) {
    std::cerr << "error: " << s.registry->unknownTypeMessage(sdk::ComponentKind::Source, type)
              << "\n(no source, channel, sink, interceptor or selector has that name; `sluice "
                 "plugins` lists them all)\n";
    return 1;
  }
  return 0;
}

// Programs of their own that a command runs, because they link code the agent binary does not
// (the file channel's storage, the Avro RPC client): where meson builds them in a build tree,
// in libexec when installed (or relocated next to bin/).
fs::path helperTool(const std::string& name, const fs::path& buildDir) {
  std::error_code ec;
  fs::path inBuild = buildDir / name;
  if (fs::exists(inBuild, ec)) return inBuild;
  fs::path installed = fs::path(SLUICE_INSTALLED_LIBEXEC_DIR) / name;
  if (fs::exists(installed, ec)) return installed;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  fs::path relocated = exe.parent_path().parent_path() / "libexec" / name;
  if (!ec && fs::exists(relocated, ec)) return relocated;
  return installed;
}

// Runs the helper with this command's arguments in place of this process.
int execHelper(const fs::path& tool, int argc, char** argv) {
  std::vector<std::string> args{tool.string()};
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  std::vector<char*> cargs;
  cargs.reserve(args.size() + 1);
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  ::execv(tool.c_str(), cargs.data());
  std::cerr << "error: cannot run " << tool << ": " << plugins::text::errnoText(errno) << "\n";
  return 2;
}

int cmdChannelCheck(int argc, char** argv) {
  // The build tree has it beside the plugins (plugins/meson.build builds them all there).
  return execHelper(helperTool("sluice-channel-check", builtinPluginDir()), argc, argv);
}

int cmdAvroClient(int argc, char** argv) {
  const fs::path buildDir = builtinPluginDir().parent_path() / "core" / "cli" / "avro_client";
  return execHelper(helperTool("sluice-avro-client", buildDir), argc, argv);
}

}  // namespace

int run(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string cmd = argv[1];
  // Sub-command parsers see argv without the command word.
  std::vector<char*> rest{argv[0]};
  for (int i = 2; i < argc; ++i) rest.push_back(argv[i]);
  int n = static_cast<int>(rest.size());
  try {
    if (cmd == "agent") return cmdAgent(n, rest.data());
    if (cmd == "validate") return cmdValidate(n, rest.data());
    if (cmd == "plugins") return cmdPlugins(n, rest.data());
    if (cmd == "describe") return cmdDescribe(n, rest.data());
    if (cmd == "channel-check") return cmdChannelCheck(n, rest.data());
    if (cmd == "avro-client") return cmdAvroClient(n, rest.data());
    if (cmd == "version" || cmd == "--version") {
      std::cout << "sluice " << SLUICE_VERSION << " (plugin SDK ABI " << SLUICE_SDK_ABI_MAJOR << "."
                << SLUICE_SDK_ABI_MINOR << ", " << SLUICE_SDK_TOOLCHAIN << ")\n"
                << "allocator: " << allocatorName() << "\n";
      printPluginDirs(std::cout);
      return 0;
    }
    if (cmd == "help" || cmd == "--help" || cmd == "-h") {
      std::cout << kUsage;
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "error: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}

}  // namespace sluice::core::cli
