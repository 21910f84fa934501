#include "core/cli/commands.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/program_options.hpp>
#include <spdlog/spdlog.h>

#include "core/config/model.hpp"
#include "core/log/logging.hpp"
#include "core/monitoring/monitor.hpp"
#include "core/monitoring/options.hpp"
#include "core/plugin/host_schemas.hpp"
#include "core/plugin/registry.hpp"
#include "core/plugin/schema_check.hpp"
#include "core/runtime/agent.hpp"
#include "core/runtime/config_watcher.hpp"
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

constexpr const char* kUsage =
    "usage: sluice <command> [options]\n"
    "\n"
    "commands:\n"
    "  agent      run an agent:      sluice agent -n a1 -f conf/a.toml\n"
    "  validate   check a config:    sluice validate -n a1 -f conf/a.properties\n"
    "  plugins    list every component type the plugin directories provide\n"
    "  describe   print a type's keys: sluice describe memory\n"
    "  channel-check  check a file channel's directories offline:\n"
    "             sluice channel-check --checkpoint-dir D --data-dirs D1,D2 [--drop-corrupt]\n"
    "  version    print the version and plugin ABI\n"
    "\n"
    "`sluice <command> --help` shows the command's options.\n";

struct CommonOptions {
  std::string agent;
  std::string confFile;
  std::string confDir;
  std::vector<std::string> pluginsPaths;
  std::vector<std::string> defines;
  std::string logLevel;
  bool lenient = false;
  bool allowInsecurePlugins = false;
  int64_t drainTimeoutMs = 5000;
  bool noReload = false;
  int64_t reloadIntervalSec = 30;
  int monitorPort = -1;  // --monitor-port; -1 = not given
  std::string monitorBind;
};

void addCommon(po::options_description& d, CommonOptions& o, bool needsConfig) {
  d.add_options()("help,h", "show this help");
  if (needsConfig)
    d.add_options()
      ("name,n", po::value(&o.agent), "agent name (may be omitted when the file has one agent)")
      ("conf-file,f", po::value(&o.confFile), "config file: .toml, or Flume .properties")
      ("conf,c", po::value(&o.confDir), "config directory; a relative --conf-file is looked up in it")
      ("lenient", po::bool_switch(&o.lenient),
       "as Flume: drop broken components and start the rest, instead of refusing to start");
  d.add_options()
    ("plugins-path", po::value(&o.pluginsPaths)->composing(),
     "plugin directories (':'-separated, may repeat); Flume's plugins.d layout is understood")
    (",D", po::value(&o.defines)->composing(),
     "-Dkey=value: override a config key (-Da1.channels.c1.capacity=5000), or a Flume switch "
     "(-Dflume.root.logger=DEBUG,console)")
    ("log-level", po::value(&o.logLevel), "trace, debug, info (default), warn, error")
    ("allow-insecure-plugins", po::bool_switch(&o.allowInsecurePlugins),
     "load plugin files even if group or others can write them");
}

std::vector<std::string> splitPath(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ":") {
    if (c == ':') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

// Diagnostics quote configuration values: secrets are masked (see LogHub::secrets()).
void printDiagnostics(const Diagnostics& d, std::ostream& os, const SecretRegistry& secrets) {
  for (const auto& item : d.items())
    os << (item.severity == Diagnostic::Severity::Error ? "error: " : "warning: ")
       << secrets.mask(item.message) << "\n";
}

// The configuration's secret values: those of keys named like secrets (isSecretKey) and of keys
// a loaded plugin's schema marks isSecret(). Registered before anything is configured, so that
// no log line, error or status page shows them.
std::vector<std::string> configSecrets(const RawConfig& raw, const PluginRegistry& registry) {
  const std::vector<std::string> schemaSecrets = registry.secretKeyNames();
  std::vector<std::string> out;
  for (const auto& [k, p] : raw.entries)
    if (isSecretKey(k) || isSchemaSecret(schemaSecrets, k)) out.push_back(p.value);
  return out;
}

// Everything agent and validate share: log level, -D, plugins, the config model.
struct Session {
  std::unique_ptr<LogHub> logs;
  std::unique_ptr<PluginRegistry> registry;
  std::vector<std::pair<std::string, std::string>> overrides;
  Diagnostics pluginDiags;
  // Flume's monitoring switches (-Dflume.monitoring.type=http), for the monitoring module.
  monitoring::CommandLine monitoring;
  RawConfig raw;  // the config file as loaded, with the -D overrides applied
};

// Applies the Flume switches among the -D values and returns the rest as config overrides.
// Returns false (after printing why) on a malformed -D.
bool splitDefines(const CommonOptions& o, std::string& logLevel, Session& s) {
  auto& overrides = s.overrides;
  for (const auto& d : o.defines) {
    auto eq = d.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "error: -D" << d << ": expected -Dkey=value\n";
      return false;
    }
    std::string key = d.substr(0, eq), value = d.substr(eq + 1);
    if (key == "flume.root.logger") {
      // log4j style: LEVEL,appender. The appender is ignored: sluice logs to stderr.
      logLevel = value.substr(0, value.find(','));
    } else if (monitoring::takeFlumeSwitch(key, value, s.monitoring)) {
      // flume.monitoring.*: the monitoring module reads it (monitoring::resolveSettings).
    } else if (key.rfind("flume.", 0) == 0) {
      std::cerr << "warning: -D" << key << " is a Flume switch sluice does not use yet; ignored\n";
    } else {
      overrides.emplace_back(key, value);
    }
  }
  return true;
}

// Parses -D (once: its overrides are reused on every reload) and sets up logging.
bool startSession(const CommonOptions& o, Session& s) {
  std::string level = o.logLevel;
  if (!splitDefines(o, level, s)) return false;
  sdk::LogLevel lv = sdk::LogLevel::info;
  if (!level.empty()) {
    try {
      lv = LogHub::parseLevel(level);
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << "\n";
      return false;
    }
  }
  s.logs = std::make_unique<LogHub>(lv);
  return true;
}

// Scans every plugin directory: built-in, --plugins-path, SLUICE_PLUGINS_PATH, plugins.path.
void loadPlugins(const CommonOptions& o, Session& s, const RawConfig* raw) {
  LoaderOptions lo;
  lo.allowInsecurePermissions = o.allowInsecurePlugins;
  s.registry = std::make_unique<PluginRegistry>(lo);
  std::vector<std::string> dirs{builtinPluginDir().string()};
  for (const auto& p : o.pluginsPaths)
    for (const auto& d : splitPath(p)) dirs.push_back(d);
  if (const char* env = std::getenv("SLUICE_PLUGINS_PATH"))
    for (const auto& d : splitPath(env)) dirs.push_back(d);
  if (raw) {
    auto it = raw->entries.find("plugins.path");
    if (it != raw->entries.end())
      for (const auto& d : splitPath(it->second.value)) dirs.push_back(d);
  }
  for (const auto& d : dirs) s.registry->addDirectory(d, s.pluginDiags);
  auto lg = s.logs->core("loader");
  for (const auto& c : s.registry->components())
    lg->debug("{} type '{}' ({} {}) from {}", sdk::nameOf(c.info->kind), c.info->type, c.pluginName,
              c.pluginVersion, c.file.string());
}

bool openSession(const CommonOptions& o, Session& s) {
  if (!startSession(o, s)) return false;
  loadPlugins(o, s, nullptr);
  return true;
}

std::string resolveConfFile(const CommonOptions& o) {
  fs::path f(o.confFile);
  if (f.is_relative() && !o.confDir.empty() && !fs::exists(f) && fs::exists(fs::path(o.confDir) / f))
    return (fs::path(o.confDir) / f).string();
  return o.confFile;
}

// Loads, checks and builds. Returns the exit code on failure, or -1 when the agent is ready.
int prepare(const CommonOptions& o, Session& s, Agent*& agentOut,
            std::unique_ptr<Agent>& holder, AgentOptions aopts, bool quietOk) {
  if (o.confFile.empty()) {
    std::cerr << "error: no config file: pass -f/--conf-file\n";
    return 2;
  }
  if (!startSession(o, s)) return 2;
  RawConfig& raw = s.raw;
  try {
    raw = loadConfigFile(resolveConfFile(o));
    applyOverrides(raw, s.overrides);
  } catch (const std::exception& e) {
    // Nothing is known of the file's secrets yet; a URL's password still goes.
    std::cerr << "error: " << s.logs->secrets().mask(e.what()) << "\n";
    return 1;
  }
  loadPlugins(o, s, &raw);
  s.logs->secrets().add(configSecrets(raw, *s.registry));
  // Refused plugin libraries are reported, but only fail the run when a type is missing.
  for (const auto& d : s.pluginDiags.items()) std::cerr << "warning: " << d.message << "\n";

  std::string agent = o.agent;
  if (agent.empty()) {
    auto names = agentNames(raw);
    if (names.size() == 1) {
      agent = names.front();
    } else {
      std::cerr << "error: " << raw.file << ": pass -n/--name to pick an agent";
      if (names.empty()) std::cerr << " (the file defines none)";
      for (std::size_t i = 0; i < names.size(); ++i) std::cerr << (i ? ", " : " (defined: ") << names[i];
      if (!names.empty()) std::cerr << ")";
      std::cerr << "\n";
      return 2;
    }
  }
  Diagnostics diags;
  AgentConfig cfg = buildAgentConfig(raw, agent, diags);
  if (!diags.hasErrors()) {
    aopts.lenient = o.lenient;
    holder = std::make_unique<Agent>(*s.registry, *s.logs, aopts);
    holder->build(cfg, diags);
  }
  printDiagnostics(diags, std::cerr, s.logs->secrets());
  if (diags.hasErrors()) {
    std::cerr << raw.file << ": agent '" << agent << "': " << diags.errorCount()
              << " error(s); nothing was started\n";
    return 1;
  }
  if (!quietOk)
    std::cout << raw.file << ": agent '" << agent << "' is valid: " << cfg.sources.size()
              << " source(s), " << cfg.channels.size() << " channel(s), " << cfg.sinks.size()
              << " sink(s), " << cfg.sinkgroups.size() << " sink group(s)\n";
  agentOut = holder.get();
  return -1;
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
  for (const auto& c : registry.components()) {
    std::string file = c.file.string();
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.file == file; });
    if (it == out.end()) {
      out.push_back({c.pluginName, c.pluginVersion, file, {}});
      it = out.end() - 1;
    }
    it->types.push_back(std::string(sdk::nameOf(c.info->kind)) + ":" + c.info->type);
  }
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
     "do not watch the config file (Flume's --no-reload-conf)")
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

  // Signals go to a dedicated thread: the first SIGINT/SIGTERM asks for a graceful stop, a
  // second one exits at once, SIGHUP reloads the config. SIGPIPE is ignored: a broken
  // connection is that connection's error.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Session s;
  Agent* agent = nullptr;
  std::unique_ptr<Agent> holder;
  AgentOptions aopts;
  aopts.drainTimeout = std::chrono::milliseconds(o.drainTimeoutMs);
  int rc = prepare(o, s, agent, holder, aopts, true);
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

  std::mutex m;
  std::condition_variable cv;
  int received = 0;
  bool reloadWanted = false;
  std::thread sigThread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      std::lock_guard lock(m);
      if (sig == SIGHUP) {
        reloadWanted = true;
      } else if (++received >= 2) {
        std::cerr << "second signal: exiting without draining\n";
        std::_Exit(130);
      }
      cv.notify_all();
    }
  });
  sigThread.detach();

  sdk::Result r;
  {
    std::lock_guard lock(agentMutex);
    r = holder->start();
  }
  if (!r) {
    std::cerr << "error: " << s.logs->secrets().mask(r.error()) << "\n";
    return 1;
  }
  auto log = s.logs->core("reload");
  std::string confFile = resolveConfFile(o);
  std::unique_ptr<ConfigWatcher> watcher;
  if (!o.noReload) {
    watcher = std::make_unique<ConfigWatcher>(confFile, std::chrono::seconds(o.reloadIntervalSec), [&] {
      std::lock_guard lock(m);
      reloadWanted = true;
      cv.notify_all();
    });
    watcher->start();
  }
  for (;;) {
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return received > 0 || reloadWanted; });
      if (received > 0) break;
      reloadWanted = false;
    }
    // Reload: a config that does not parse or validate is reported and the old one keeps running.
    log->info("configuration file {} changed; reloading", confFile);
    Diagnostics diags;
    try {
      RawConfig raw = loadConfigFile(confFile);
      applyOverrides(raw, s.overrides);
      // The new file's secrets, before anything quotes them (old ones stay: see SecretRegistry).
      s.logs->secrets().add(configSecrets(raw, *s.registry));
      AgentConfig cfg = buildAgentConfig(raw, holder->name(), diags);
      if (!diags.hasErrors()) {
        std::lock_guard lock(agentMutex);
        holder = Agent::reload(std::move(holder), cfg, diags);
      }
    } catch (const std::exception& e) {
      diags.error(e.what());
    }
    for (const auto& d : diags.items()) {
      if (d.severity == Diagnostic::Severity::Error)
        log->error("{}", d.message);
      else
        log->warn("{}", d.message);
    }
    if (diags.hasErrors()) log->error("reload refused: the running configuration is unchanged");
  }
  if (watcher) watcher->stop();
  {
    std::lock_guard lock(agentMutex);
    holder->stop();
  }
  if (monitor) monitor->stop();
  s.logs->flush();
  return 0;
}

int cmdValidate(int argc, char** argv) {
  CommonOptions o;
  po::options_description desc("sluice validate options");
  addCommon(desc, o, true);
  po::variables_map vm;
  if (!parse(desc, argc, argv, vm)) return 2;
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  Session s;
  Agent* agent = nullptr;
  std::unique_ptr<Agent> holder;
  o.logLevel = o.logLevel.empty() ? "warn" : o.logLevel;
  int rc = prepare(o, s, agent, holder, AgentOptions{}, false);
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
  for (auto kind : {sdk::ComponentKind::Source, sdk::ComponentKind::Channel, sdk::ComponentKind::Sink,
                    sdk::ComponentKind::Interceptor, sdk::ComponentKind::ChannelSelector,
                    sdk::ComponentKind::SinkSelector}) {
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

// The file channel's offline checker ships as its own program (it links the channel's storage
// code, which the host does not): next to the plugins in a build tree, in libexec when installed.
fs::path channelCheckTool() {
  std::error_code ec;
  fs::path inBuild = builtinPluginDir() / "channel_file" / "sluice-channel-check";
  if (fs::exists(inBuild, ec)) return inBuild;
  fs::path installed = fs::path(SLUICE_INSTALLED_LIBEXEC_DIR) / "sluice-channel-check";
  if (fs::exists(installed, ec)) return installed;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  fs::path relocated = exe.parent_path().parent_path() / "libexec" / "sluice-channel-check";
  if (!ec && fs::exists(relocated, ec)) return relocated;
  return installed;
}

int cmdChannelCheck(int argc, char** argv) {
  const fs::path tool = channelCheckTool();
  std::vector<std::string> args{tool.string()};
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  std::vector<char*> cargs;
  cargs.reserve(args.size() + 1);
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  ::execv(tool.c_str(), cargs.data());
  std::cerr << "error: cannot run the channel checker " << tool << ": " << std::strerror(errno)
            << "\n";
  return 2;
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
    if (cmd == "version" || cmd == "--version") {
      std::cout << "sluice " << SLUICE_VERSION << " (plugin SDK ABI " << SLUICE_SDK_ABI_MAJOR << "."
                << SLUICE_SDK_ABI_MINOR << ", " << SLUICE_SDK_TOOLCHAIN << ")\n"
                << "allocator: " << allocatorName() << "\n";
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
