// The HDFS sink's keys (the schema the host checks, README.md's table) and configure(), which
// turns them into HdfsSettings for the bucketing and writing code in hdfs_sink.cpp.
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "config_keys.hpp"
#include "file_output.hpp"
#include "hdfs_sink.hpp"

namespace sluice::plugins::hdfs {

namespace {

using file_output::lower;
using file_output::trimmed;

}  // namespace

const sdk::Schema& hdfsSinkSchema() {
  static const sdk::Schema schema{
      sdk::Key("hdfs.path")
          .string()
          .req()
          .doc("Directory template, local or mounted (file:// allowed), with Flume's escapes, "
               "e.g. /data/flume/%Y%m%d/%H; hdfs:// is not supported yet"),
      sdk::Key("hdfs.filePrefix")
          .string()
          .def("FlumeData")
          .doc("File name prefix; may use the same escapes as hdfs.path"),
      sdk::Key("hdfs.fileSuffix")
          .string()
          .doc("File name suffix, e.g. .log; when empty, CompressedStream adds .gz or .zst"),
      sdk::Key("hdfs.inUsePrefix").string().doc("Prefix of a file's name while it is written"),
      sdk::Key("hdfs.inUseSuffix")
          .string()
          .def(".tmp")
          .doc("Suffix of a file's name while it is written; removed by a rename on close"),
      sdk::Key("hdfs.emptyInUseSuffix")
          .boolean()
          .def("false")
          .doc("Write files under their final name (ignore hdfs.inUseSuffix)"),
      sdk::Key("hdfs.rollInterval")
          .longValue()
          .def("30")
          .range(0, 31536000)
          .doc("Seconds after which a file is closed; 0 = never roll by time"),
      sdk::Key("hdfs.rollSize")
          .longValue()
          .def("1024")
          .atLeast(0)
          .doc("Body bytes after which a file is closed; 0 = never roll by size"),
      sdk::Key("hdfs.rollCount")
          .longValue()
          .def("10")
          .atLeast(0)
          .doc("Events after which a file is closed; 0 = never roll by count"),
      sdk::Key("hdfs.idleTimeout")
          .longValue()
          .def("0")
          .range(0, 31536000)
          .doc("Seconds without writes after which a file is closed; 0 = never"),
      sdk::Key("hdfs.batchSize")
          .integer()
          .def("100")
          .range(1, 1000000)
          .doc("Events taken from the channel and written per transaction"),
      sdk::Key("hdfs.fileType")
          .oneOf({"SequenceFile", "DataStream", "CompressedStream"})
          .def("SequenceFile")
          .doc("DataStream (plain) or CompressedStream (hdfs.codeC); Flume's default "
               "SequenceFile is refused with an error"),
      sdk::Key("hdfs.codeC")
          .string()
          .doc("CompressedStream codec: gzip or zstd (also GzipCodec, ZStandardCodec)"),
      sdk::Key("hdfs.maxOpenFiles")
          .integer()
          .def("5000")
          .range(1, 1000000)
          .doc("Open files kept at most; the least recently used is closed first"),
      sdk::Key("hdfs.round")
          .boolean()
          .def("false")
          .doc("Round the timestamp down for the time escapes (not %t)"),
      sdk::Key("hdfs.roundValue")
          .integer()
          .def("1")
          .range(1, 60)
          .doc("Round down to a multiple of this many roundUnits (<= 24 for hour)"),
      sdk::Key("hdfs.roundUnit")
          .oneOf({"second", "minute", "hour"})
          .def("second")
          .doc("Unit of hdfs.roundValue"),
      sdk::Key("hdfs.timeZone")
          .string()
          .doc("IANA time zone for the escapes, e.g. America/New_York or UTC; local time when "
               "unset"),
      sdk::Key("hdfs.useLocalTimeStamp")
          .boolean()
          .def("false")
          .doc("Use the sink's clock instead of the timestamp header"),
      sdk::Key("hdfs.fallbackPath")
          .string()
          .doc("sluice: directory (no time escapes) for events without a usable timestamp "
               "header, with hdfs.missingTimestampPolicy = fallback"),
      sdk::Key("hdfs.missingTimestampPolicy")
          .oneOf({"drop", "fallback", "fail"})
          .doc("sluice: an event without a usable timestamp header is dropped (counted), written "
               "to hdfs.fallbackPath, or fails its batch (Flume); unset: fallback when "
               "hdfs.fallbackPath is set, else drop"),
      sdk::Key("hdfs.recoverInUseFiles")
          .boolean()
          .def("true")
          .doc("sluice: on start, rename in-use files a crash left under hdfs.path"),
      sdk::Key("serializer")
          .oneOf(file_output::serializerSpellings())
          .component(sdk::ComponentKind::EventSerializer)
          .def("TEXT")
          .doc("TEXT writes each body (and a newline); HEADER_AND_TEXT writes the headers as "
               "{k=v, k=v}, a space, then the body; avro_event writes an Avro container; the "
               "type of a serializer plugin writes its own format, configured by the keys below "
               "serializer"),
      sdk::Key("serializer.appendNewline")
          .boolean()
          .def("true")
          .doc("TEXT, HEADER_AND_TEXT: write a newline after each event"),
      sdk::Key("serializer.compressionCodec")
          .oneOf({"null"})
          .def("null")
          .doc("avro_event: block compression; only null (use hdfs.fileType for compression)"),
      sdk::Key("serializer.syncIntervalBytes")
          .flumeIgnored("avro_event: ignored, one Avro block per file per batch"),
      sdk::Key("hdfs.writeFormat").flumeIgnored("SequenceFile only: ignored"),
      sdk::Key("hdfs.minBlockReplicas").flumeIgnored("HDFS only: ignored"),
      sdk::Key("hdfs.callTimeout").flumeIgnored("HDFS only: ignored"),
      sdk::Key("hdfs.threadsPoolSize").flumeIgnored("HDFS only: ignored"),
      sdk::Key("hdfs.rollTimerPoolSize").flumeIgnored("ignored: rolls are checked in process()"),
      sdk::Key("hdfs.kerberosPrincipal").flumeIgnored("HDFS only: ignored"),
      sdk::Key("hdfs.kerberosKeytab").flumeIgnored("HDFS only: ignored"),
      sdk::Key("hdfs.proxyUser").flumeIgnored("HDFS only: ignored"),
      sdk::Key("hdfs.closeTries").flumeIgnored("HDFS only: ignored"),
      sdk::Key("hdfs.retryInterval").flumeIgnored("HDFS only: ignored"),
  };
  return schema;
}

HdfsSink::HdfsSink() : rng_(std::random_device{}()) {
  cntTimestampMissing_ = sinkCounter().add("EventTimestampMissingCount");
  cntRecovered_ = sinkCounter().add("InUseFileRecoveredCount");
  cntCloseFail_ = sinkCounter().add("FileCloseFailCount");
}

HdfsSink::~HdfsSink() {
  closeAll();
  if (zsReady_) deflateEnd(&zs_);
  if (zctx_) ZSTD_freeCCtx(zctx_);
}

void HdfsSink::configure(const sdk::Context& ctx) {
  HdfsSettings s;
  std::string path = trimmed(ctx.requireString("hdfs.path"));
  if (lower(path.substr(0, 7)) == "hdfs://")
    ctx.fail("hdfs.path",
             "hdfs:// (a real HDFS cluster) is not supported yet; use a local or "
             "mounted directory, e.g. /data/flume/%Y%m%d or file:///data/flume");
  if (lower(path.substr(0, 7)) == "file://") path = path.substr(7);
  if (auto scheme = path.find("://"); scheme != std::string::npos)
    ctx.fail("hdfs.path", "the scheme '" + path.substr(0, scheme) +
                              "://' is not supported; use a local path or file://");
  if (path.empty() || path.front() != '/')
    ctx.fail("hdfs.path", "expected an absolute directory path, got '" + path + "'");
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  s.path = path;

  s.filePrefix = requireValue(ctx, "hdfs.filePrefix");
  s.fileSuffix = ctx.getString("hdfs.fileSuffix", "");
  s.inUsePrefix = ctx.getString("hdfs.inUsePrefix", "");
  s.inUseSuffix = requireValue(ctx, "hdfs.inUseSuffix");
  if (requireBoolean(ctx, "hdfs.emptyInUseSuffix")) s.inUseSuffix.clear();
  for (const char* key : {"hdfs.fileSuffix", "hdfs.inUsePrefix", "hdfs.inUseSuffix"})
    if (ctx.getString(key, "").find('/') != std::string::npos)
      ctx.fail(key, "must not contain '/'");
  if (s.filePrefix.empty()) ctx.fail("hdfs.filePrefix", "must not be empty");

  s.rollIntervalSec = requireLong(ctx, "hdfs.rollInterval");
  s.rollSize = requireLong(ctx, "hdfs.rollSize");
  s.rollCount = requireLong(ctx, "hdfs.rollCount");
  s.idleTimeoutSec = requireLong(ctx, "hdfs.idleTimeout");
  s.batchSize = static_cast<std::size_t>(requireInteger(ctx, "hdfs.batchSize"));
  s.maxOpenFiles = static_cast<std::size_t>(requireInteger(ctx, "hdfs.maxOpenFiles"));

  // Enum keys: the host has checked them against the schema's values (case-insensitively).
  const std::string fileType = lower(trimmed(requireValue(ctx, "hdfs.fileType")));
  const std::string codec = trimmed(ctx.getString("hdfs.codeC", ""));
  if (fileType == "sequencefile")
    ctx.fail("hdfs.fileType",
             "SequenceFile (Flume's default) is not supported; set hdfs.fileType = DataStream "
             "(plain text) or CompressedStream (with hdfs.codeC = gzip or zstd)");
  if (fileType == "datastream") {
    s.fileType = FileType::DataStream;
    if (!codec.empty())
      ctx.fail("hdfs.codeC", "is set but hdfs.fileType is DataStream; use CompressedStream");
  } else {
    s.fileType = FileType::CompressedStream;
    const std::string c = lower(codec);
    if (c == "gzip" || c == "gzipcodec" || c == "org.apache.hadoop.io.compress.gzipcodec")
      s.codec = Codec::Gzip;
    else if (c == "zstd" || c == "zstandardcodec" ||
             c == "org.apache.hadoop.io.compress.zstandardcodec")
      s.codec = Codec::Zstd;
    else if (c.empty())
      ctx.fail("hdfs.codeC", "is required with hdfs.fileType = CompressedStream (gzip or zstd)");
    else
      ctx.fail("hdfs.codeC", "codec '" + codec + "' is not supported; expected gzip or zstd");
  }

  s.round = requireBoolean(ctx, "hdfs.round");
  const std::string unit = lower(trimmed(requireValue(ctx, "hdfs.roundUnit")));
  s.roundUnit = unit == "hour"     ? RoundUnit::Hour
                : unit == "minute" ? RoundUnit::Minute
                                   : RoundUnit::Second;
  s.roundValue = requireInteger(ctx, "hdfs.roundValue");  // the schema allows 1..60
  if (s.roundUnit == RoundUnit::Hour && s.roundValue > 24)
    ctx.fail("hdfs.roundValue", "expected a value between 1 and 24, got " +
                                    std::to_string(s.roundValue) + " (hdfs.roundUnit = hour)");
  s.useLocalTimeStamp = requireBoolean(ctx, "hdfs.useLocalTimeStamp");
  s.timeZone = trimmed(ctx.getString("hdfs.timeZone", ""));
  std::optional<TimeZone> zone;
  if (s.timeZone.empty() || lower(s.timeZone) == "local time") {
    zone = TimeZone::local();
  } else {
    try {
      zone = TimeZone::parse(s.timeZone);
    } catch (const std::exception& e) {
      ctx.fail("hdfs.timeZone", e.what());
    }
  }

  s.custom = ctx.component<sdk::EventSerializerBuilder>("serializer");
  if (!s.custom) {
    file_output::requireBuiltinSerializer(ctx, "serializer");
    s.serializer = file_output::serializerFromName(requireValue(ctx, "serializer"));
    s.appendNewline = requireBoolean(ctx, "serializer.appendNewline");
  }
  s.recoverInUseFiles = requireBoolean(ctx, "hdfs.recoverInUseFiles");

  // Resolving the host name can wait on DNS: only when a template asks for it.
  const bool wantsHost =
      (s.path + s.filePrefix + ctx.getString("hdfs.fallbackPath", "")).find("%[") !=
      std::string::npos;
  const HostNames host = wantsHost ? HostNames::lookup() : HostNames{};
  PathTemplate pathT = PathTemplate::compile(s.path, host);
  PathTemplate prefixT = PathTemplate::compile(s.filePrefix, host);
  for (const auto* t : {&pathT, &prefixT})
    for (const std::string& u : t->unknownEscapes()) {
      if (u.rfind("%[", 0) == 0)
        ctx.fail(t == &pathT ? "hdfs.path" : "hdfs.filePrefix",
                 "unknown escape " + u + "; expected %[localhost], %[IP] or %[FQDN]");
      ctx.logger().warn(ctx.describe(t == &pathT ? "hdfs.path" : "hdfs.filePrefix"),
                        ": unknown escape ", u, " expands to nothing (as in Flume)");
    }
  std::optional<PathTemplate> fallbackT;
  s.fallbackPath = trimmed(ctx.getString("hdfs.fallbackPath", ""));
  if (!s.fallbackPath.empty()) {
    if (lower(s.fallbackPath.substr(0, 7)) == "file://") s.fallbackPath = s.fallbackPath.substr(7);
    if (s.fallbackPath.front() != '/')
      ctx.fail("hdfs.fallbackPath", "expected an absolute directory path");
    fallbackT = PathTemplate::compile(s.fallbackPath, host);
    if (fallbackT->usesTime())
      ctx.fail("hdfs.fallbackPath",
               "must not use time escapes: it takes the events whose "
               "timestamp is missing");
  }
  // Unset: fallback when hdfs.fallbackPath is set (what that key alone meant before the policy
  // existed), else drop. The schema gives no default for that reason: its absence means this.
  const std::string policy = lower(trimmed(ctx.getString("hdfs.missingTimestampPolicy", "")));
  if (policy.empty())
    s.missingTimestampPolicy =
        fallbackT ? MissingTimestampPolicy::Fallback : MissingTimestampPolicy::Drop;
  else
    s.missingTimestampPolicy = policy == "fail"       ? MissingTimestampPolicy::Fail
                               : policy == "fallback" ? MissingTimestampPolicy::Fallback
                                                      : MissingTimestampPolicy::Drop;
  if (s.missingTimestampPolicy == MissingTimestampPolicy::Fallback && !fallbackT)
    ctx.fail("hdfs.missingTimestampPolicy",
             "fallback needs hdfs.fallbackPath, the directory for events without a usable "
             "timestamp");
  if (s.missingTimestampPolicy != MissingTimestampPolicy::Fallback && fallbackT)
    ctx.fail("hdfs.fallbackPath",
             "is set but hdfs.missingTimestampPolicy is " + policy +
                 ", which never writes there; set the policy to fallback or remove the key");

  closeAll();
  s_ = std::move(s);
  pathT_ = std::move(pathT);
  prefixT_ = std::move(prefixT);
  fallbackT_ = std::move(fallbackT);
  zone_ = std::move(zone);
  time_ = TimeSettings{s_.round, s_.roundUnit, s_.roundValue, s_.useLocalTimeStamp, &*zone_};
  pathKey_ = ctx.describe("hdfs.path");
  configured_ = true;
}

}  // namespace sluice::plugins::hdfs
