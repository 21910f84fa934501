#include "core/cli/avro_client/avro_client.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "core/cli/avro_client/rpc_connection.hpp"
#include "core/config/model.hpp"
#include "plugins/common/text_util.hpp"

namespace sluice::core::cli {
namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

// Flume's AvroCLIClient batch (RpcClientFactory.getDefaultInstance(host, port, 5)) and the
// default RPC client's timeouts.
constexpr std::size_t kFlumeBatchSize = 5;
constexpr int64_t kFlumeTimeoutMs = 20000;
// Flume's LineDeserializer.maxLineLength, the spooling reader's default.
constexpr std::size_t kSpoolMaxLineChars = 2048;
constexpr const char* kCompletedSuffix = ".COMPLETED";

struct Settings {
  std::string host;
  int port = 0;
  std::size_t batchSize = kFlumeBatchSize;
  int64_t connectTimeoutMs = kFlumeTimeoutMs, requestTimeoutMs = kFlumeTimeoutMs;
  std::string file, dir;
  sdk::Headers headers;
};

// Where the events come from: one line each.
class LineReader {
 public:
  virtual ~LineReader() = default;
  // The next line without its end, or false at the end of the input.
  virtual bool next(std::string& line) = 0;
};

// Java's BufferedReader.readLine(): a line ends at \n, \r or \r\n; the last one needs none.
class TextLines final : public LineReader {
 public:
  explicit TextLines(std::FILE* f) : f_(f) {}
  bool next(std::string& line) override {
    line.clear();
    int c = 0;
    bool any = false;
    while ((c = getc_unlocked(f_)) != EOF) {
      any = true;
      if (c == '\n') return true;
      if (c == '\r') {
        const int d = getc_unlocked(f_);
        if (d != '\n' && d != EOF) ungetc(d, f_);
        return true;
      }
      line += static_cast<char>(c);
    }
    return any;
  }

 private:
  std::FILE* f_;
};

// Flume's LineDeserializer, as the spooling reader uses it: a line ends at \n only (a \r stays
// in the event) and an event holds at most kSpoolMaxLineChars characters; the rest of a longer
// line becomes the next event(s).
class SpoolLines final : public LineReader {
 public:
  explicit SpoolLines(std::FILE* f) : f_(f) {}
  bool next(std::string& line) override {
    line.clear();
    std::size_t chars = 0;
    int c = 0;
    while ((c = getc_unlocked(f_)) != EOF) {
      // A UTF-8 continuation byte is part of the character before it.
      if ((c & 0xC0) != 0x80) ++chars;
      if (c == '\n') return true;
      line += static_cast<char>(c);
      if (chars >= kSpoolMaxLineChars) {
        // The rest of this character, then stop, as Flume does after maxLineLength chars.
        while ((c = getc_unlocked(f_)) != EOF && (c & 0xC0) == 0x80) line += static_cast<char>(c);
        if (c != EOF) ungetc(c, f_);
        return true;
      }
    }
    return chars > 0;
  }

 private:
  std::FILE* f_;
};

struct FileCloser {
  void operator()(std::FILE* f) const noexcept {
    if (f) std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

class Sender {
 public:
  Sender(RpcConnection& conn, const Settings& s) : conn_(conn), s_(s) {
    batch_.reserve(s.batchSize);
  }

  // Sends every line of `reader`, batch by batch, each acknowledged before the next.
  bool sendAll(LineReader& reader, std::string* error) {
    std::string line;
    for (;;) {
      batch_.clear();
      while (batch_.size() < s_.batchSize && reader.next(line))
        batch_.emplace_back(s_.headers, std::move(line));
      if (batch_.empty()) return true;
      if (!conn_.appendBatch(batch_, error)) return false;
      events_ += batch_.size();
      for (const auto& e : batch_) bytes_ += e.body.size();
    }
  }
  uint64_t events() const { return events_; }
  uint64_t bytes() const { return bytes_; }

 private:
  RpcConnection& conn_;
  const Settings& s_;
  std::vector<sdk::Event> batch_;
  uint64_t events_ = 0, bytes_ = 0;
};

// The files a spooling directory holds for sending, oldest first (then by name), as Flume's
// reader with consumeOrder = oldest picks them: regular files, not hidden, not *.COMPLETED.
std::vector<fs::path> spoolFiles(const fs::path& dir, std::string* error) {
  std::vector<std::pair<fs::file_time_type, fs::path>> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (name.size() >= std::strlen(kCompletedSuffix) &&
        name.compare(name.size() - std::strlen(kCompletedSuffix), std::string::npos,
                     kCompletedSuffix) == 0)
      continue;
    std::error_code fe;
    if (!it->is_regular_file(fe)) continue;
    found.emplace_back(fs::last_write_time(it->path(), fe), it->path());
  }
  if (ec) {
    *error = "cannot read the directory " + dir.string() + ": " + ec.message();
    return {};
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> out;
  out.reserve(found.size());
  for (auto& [time, path] : found) out.push_back(std::move(path));
  return out;
}

bool sendDirectory(Sender& sender, const std::string& dir, std::string* error) {
  std::string why;
  const std::vector<fs::path> files = spoolFiles(dir, &why);
  if (!why.empty()) {
    *error = why;
    return false;
  }
  for (const fs::path& f : files) {
    FilePtr in(std::fopen(f.c_str(), "rb"));
    if (!in) {
      *error = "cannot open " + f.string() + ": " + plugins::text::errnoText(errno);
      return false;
    }
    SpoolLines lines(in.get());
    if (!sender.sendAll(lines, error)) return false;
    in.reset();
    // Every event of the file is acknowledged: it is done, as Flume's reader marks it.
    const fs::path done = f.string() + kCompletedSuffix;
    std::error_code ec;
    if (fs::exists(done, ec)) {
      *error = "cannot rename " + f.string() + " to " + done.string() +
               ": that file exists (a file name used twice in the spooling directory)";
      return false;
    }
    fs::rename(f, done, ec);
    if (ec) {
      *error = "cannot rename " + f.string() + " to " + done.string() + ": " + ec.message();
      return false;
    }
  }
  return true;
}

bool parsePort(const std::string& text, int& port) {
  int p = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
  if (ec != std::errc() || ptr != text.data() + text.size() || p < 1 || p > 65535) return false;
  port = p;
  return true;
}

bool readProperties(const std::string& path, const char* what, RawConfig& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot read the " << what << " " << path << ": "
              << plugins::text::errnoText(errno) << "\n";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    out = parseProperties(text.str(), path);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return false;
  }
  return true;
}

// Flume's RPC client properties (-P): the first of `hosts` and its hosts.<name> address,
// batch-size, connect-timeout and request-timeout. Other client types are refused.
bool applyRpcProps(const std::string& path, Settings& s) {
  RawConfig raw;
  if (!readProperties(path, "RPC client properties file", raw)) return false;
  auto get = [&](const std::string& k) -> const std::string* {
    auto it = raw.entries.find(k);
    return it == raw.entries.end() ? nullptr : &it->second.value;
  };
  auto bad = [&](const std::string& k, const std::string& expected) {
    std::cerr << "error: " << path << ": " << k << ": expected " << expected << ", got '" << *get(k)
              << "'\n";
    return false;
  };
  if (const std::string* t = get("client.type"); t && *t != "default")
    return bad("client.type", "default (sluice avro-client has no other RPC clients)");
  const std::string* hosts = get("hosts");
  if (!hosts || hosts->empty()) {
    std::cerr << "error: " << path << ": hosts is required (hosts = h1, hosts.h1 = host:port)\n";
    return false;
  }
  const std::string first = hosts->substr(0, hosts->find_first_of(" \t,"));
  const std::string key = "hosts." + first;
  const std::string* address = get(key);
  const std::size_t colon = address ? address->rfind(':') : std::string::npos;
  if (!address || colon == std::string::npos || colon == 0 ||
      !parsePort(address->substr(colon + 1), s.port)) {
    std::cerr << "error: " << path << ": " << key << ": expected host:port\n";
    return false;
  }
  s.host = address->substr(0, colon);
  if (s.host.size() > 2 && s.host.front() == '[' && s.host.back() == ']')
    s.host = s.host.substr(1, s.host.size() - 2);
  auto positive = [&](const char* k, int64_t& out) {
    const std::string* v = get(k);
    if (!v) return true;
    int64_t n = 0;
    auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || ptr != v->data() + v->size() || n < 1)
      return bad(k, "a positive integer");
    out = n;
    return true;
  };
  int64_t batch = static_cast<int64_t>(s.batchSize);
  if (!positive("batch-size", batch) || !positive("connect-timeout", s.connectTimeoutMs) ||
      !positive("request-timeout", s.requestTimeoutMs))
    return false;
  s.batchSize = static_cast<std::size_t>(batch);
  return true;
}

// Flume's usage error: its message, then the options.
int usageError(const std::string& message, const po::options_description& desc) {
  std::cerr << "error: " << message << "\n\nusage: sluice avro-client [options]\n" << desc;
  return 2;
}

}  // namespace

int runAvroClient(int argc, char** argv) {
  std::string host, port, rpcProps, headerFile;
  Settings s;
  po::options_description desc("avro-client options (Flume's)");
  desc.add_options()(
      "rpcProps,P", po::value(&rpcProps),
      "RPC client properties file with server connection params (hosts, hosts.<h>, batch-size, "
      "connect-timeout, request-timeout)")("host,H", po::value(&host),
                                           "hostname to which events will be sent")(
      "port,p", po::value(&port), "port of the avro source")(
      "dirname", po::value(&s.dir),
      "directory to stream to avro source (each file is renamed <name>.COMPLETED once sent)")(
      "filename,F", po::value(&s.file), "text file to stream to avro source (default: std input)")(
      "headerFile,R", po::value(&headerFile),
      "file containing event headers as key/value pairs on each new line")("help,h",
                                                                           "display help text");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    return usageError(std::string("Unable to parse command line options - ") + e.what(), desc);
  }
  if (vm.count("help")) {
    std::cout << "usage: sluice avro-client [options]\n"
              << desc
              << "The --dirname option assumes that a spooling directory exists where immutable "
                 "log files are dropped.\n";
    return 0;
  }
  if (vm.count("filename") && vm.count("dirname"))
    return usageError("--filename and --dirname options cannot be used simultaneously", desc);
  if (!vm.count("port") && !vm.count("host") && !vm.count("rpcProps"))
    return usageError("Either --rpcProps or both --host and --port must be specified.", desc);
  if (vm.count("rpcProps")) {
    if (!applyRpcProps(rpcProps, s)) return 2;
  } else {
    if (!vm.count("port"))
      return usageError("You must specify a port to connect to with --port", desc);
    if (!parsePort(port, s.port))
      return usageError("--port: expected a port number (1-65535), got '" + port + "'", desc);
    if (!vm.count("host"))
      return usageError("You must specify a hostname to connect to with --host", desc);
    s.host = host;
  }
  if (vm.count("headerFile")) {
    RawConfig raw;
    if (!readProperties(headerFile, "header file", raw)) return 2;
    for (const auto& [k, p] : raw.entries) s.headers.set(k, p.value);
  }
  FilePtr input;
  if (!s.file.empty()) {
    input.reset(std::fopen(s.file.c_str(), "rb"));
    if (!input) {
      std::cerr << "error: cannot open " << s.file << ": " << plugins::text::errnoText(errno)
                << "\n";
      return 1;
    }
  }

  RpcConnection conn(s.host, s.port, std::chrono::milliseconds(s.connectTimeoutMs),
                     std::chrono::milliseconds(s.requestTimeoutMs));
  std::string error;
  if (!conn.connect(&error)) {
    std::cerr << "error: Unable to open connection to Flume: " << error << "\n";
    return 1;
  }
  Sender sender(conn, s);
  bool ok = false;
  if (!s.dir.empty()) {
    ok = sendDirectory(sender, s.dir, &error);
  } else {
    TextLines lines(input ? input.get() : stdin);
    ok = sender.sendAll(lines, &error);
  }
  if (!ok) {
    std::cerr << "error: Unable to deliver events to Flume: " << error << " (" << sender.events()
              << " events were delivered before)\n";
    return 1;
  }
  std::cerr << "avro-client: sent " << sender.events() << " events (" << sender.bytes()
            << " bytes) to " << conn.target() << "\n";
  return 0;
}

}  // namespace sluice::core::cli
