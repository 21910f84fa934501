#include "log_format.hpp"

#include "crc32c.hpp"

namespace sluice::plugins::filechannel {

namespace {

void putU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void putU64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
uint32_t getU32(const char* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t getU64(const char* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Starts a record: reserves its header and writes type and transaction id. Returns where the
// record begins in out.
std::size_t beginRecord(std::string& out, RecordType type, uint64_t txId) {
  const std::size_t start = out.size();
  out.append(kRecordHeaderSize, '\0');
  out.push_back(static_cast<char>(type));
  putU64(out, txId);
  return start;
}

// Fills in length and checksum; returns the record's total size.
std::size_t endRecord(std::string& out, std::size_t start) {
  const std::size_t payload = out.size() - start - kRecordHeaderSize;
  const uint32_t len = static_cast<uint32_t>(payload);
  const uint32_t crc = crc32c(out.data() + start + kRecordHeaderSize, payload);
  std::memcpy(out.data() + start, &len, 4);
  std::memcpy(out.data() + start + 4, &crc, 4);
  return out.size() - start;
}

// Reads a u32-length-prefixed string from [p, end); advances p.
bool readBytes(const char*& p, const char* end, std::string_view& s) noexcept {
  if (end - p < 4) return false;
  const uint32_t n = getU32(p);
  p += 4;
  if (static_cast<std::size_t>(end - p) < n) return false;
  s = std::string_view(p, n);
  p += n;
  return true;
}

}  // namespace

std::size_t appendPutRecord(std::string& out, uint64_t txId, const sdk::Event& event) {
  // Hot path (every event of a put): one resize, then fixed stores, and the checksum fed from
  // the values and the event's own strings, never read back from `out` (see Crc32cStream).
  std::size_t payload = 1 + 8 + 4 + 4 + event.body.size();
  for (const auto& [k, v] : event.headers) payload += 8 + k.size() + v.size();
  const std::size_t start = out.size();
  out.resize(start + kRecordHeaderSize + payload);
  char* p = out.data() + start + kRecordHeaderSize;
  Crc32cStream crc;
  auto u32 = [&](uint32_t v) {
    std::memcpy(p, &v, 4);
    p += 4;
    crc.u32(v);
  };
  auto bytes = [&](const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    if (s.empty()) return;
    s.copy(p, s.size());
    p += s.size();
    crc.bytes(s.data(), s.size());
  };
  *p++ = static_cast<char>(RecordType::Put);
  crc.u8(static_cast<uint8_t>(RecordType::Put));
  std::memcpy(p, &txId, 8);
  p += 8;
  crc.u64(txId);
  u32(static_cast<uint32_t>(event.headers.size()));
  for (const auto& [k, v] : event.headers) {
    bytes(k);
    bytes(v);
  }
  bytes(event.body);
  const uint32_t len = static_cast<uint32_t>(payload);
  const uint32_t sum = crc.value();
  std::memcpy(out.data() + start, &len, 4);
  std::memcpy(out.data() + start + 4, &sum, 4);
  return kRecordHeaderSize + payload;
}

std::size_t appendTakeRecord(std::string& out, uint64_t txId, std::span<const IndexEntry> taken) {
  const std::size_t start = beginRecord(out, RecordType::Take, txId);
  putU32(out, static_cast<uint32_t>(taken.size()));
  for (const IndexEntry& e : taken) putU64(out, e.pos);
  return endRecord(out, start);
}

std::size_t appendCommitRecord(std::string& out, uint64_t txId, uint32_t putCount) {
  const std::size_t start = beginRecord(out, RecordType::Commit, txId);
  putU32(out, putCount);
  return endRecord(out, start);
}

std::size_t appendStateRecord(std::string& out, uint64_t txId, std::string_view key,
                              std::string_view value) {
  const std::size_t start = beginRecord(out, RecordType::State, txId);
  putU32(out, static_cast<uint32_t>(key.size()));
  out.append(key);
  putU32(out, static_cast<uint32_t>(value.size()));
  out.append(value);
  return endRecord(out, start);
}

void appendFileHeader(std::string& out, uint32_t fileId) {
  putU32(out, kLogMagic);
  putU32(out, kLogVersion);
  putU32(out, fileId);
  putU32(out, 0);
}

const char* nameOf(ParseStatus s) noexcept {
  switch (s) {
    case ParseStatus::Ok:
      return "ok";
    case ParseStatus::Truncated:
      return "truncated record";
    case ParseStatus::Corrupt:
      return "corrupt record";
  }
  return "?";
}

ParseStatus parseRecord(const char* data, std::size_t avail, RecordView& out) noexcept {
  if (avail < kRecordHeaderSize) return ParseStatus::Truncated;
  const uint32_t len = getU32(data);
  const uint32_t crc = getU32(data + 4);
  if (len < 9 || len > kMaxPayload) return ParseStatus::Corrupt;
  if (avail - kRecordHeaderSize < len) return ParseStatus::Truncated;
  const char* payload = data + kRecordHeaderSize;
  if (crc32c(payload, len) != crc) return ParseStatus::Corrupt;
  const auto type = static_cast<uint8_t>(payload[0]);
  if (type < 1 || type > 4) return ParseStatus::Corrupt;
  out.type = static_cast<RecordType>(type);
  out.txId = getU64(payload + 1);
  out.body = std::string_view(payload + 9, len - 9);
  out.size = static_cast<uint32_t>(kRecordHeaderSize + len);
  return ParseStatus::Ok;
}

bool parseFileHeader(const char* data, std::size_t avail, uint32_t& fileId, std::string* why) {
  if (avail < kFileHeaderSize) {
    if (why) *why = "shorter than the 16-byte file header";
    return false;
  }
  if (getU32(data) != kLogMagic) {
    if (why) *why = "not a sluice file channel log (bad magic)";
    return false;
  }
  if (const uint32_t v = getU32(data + 4); v < kMinLogVersion || v > kLogVersion) {
    if (why) *why = "unsupported log format version " + std::to_string(getU32(data + 4));
    return false;
  }
  fileId = getU32(data + 8);
  return true;
}

bool decodePut(std::string_view body, sdk::Event& event) {
  const char* p = body.data();
  const char* end = p + body.size();
  if (end - p < 4) return false;
  const uint32_t nHeaders = getU32(p);
  p += 4;
  // Each header needs at least 8 bytes: reject absurd counts before allocating.
  if (nHeaders > static_cast<std::size_t>(end - p) / 8) return false;
  event.headers.clear();
  for (uint32_t i = 0; i < nHeaders; ++i) {
    std::string_view k, v;
    if (!readBytes(p, end, k) || !readBytes(p, end, v)) return false;
    event.headers.set(k, v);
  }
  std::string_view b;
  if (!readBytes(p, end, b) || p != end) return false;
  event.body.assign(b.data(), b.size());
  return true;
}

bool decodeTake(std::string_view body, uint32_t& count, const char*& positions) noexcept {
  if (body.size() < 4) return false;
  count = getU32(body.data());
  if ((body.size() - 4) / 8 != count || (body.size() - 4) % 8 != 0) return false;
  positions = body.data() + 4;
  return true;
}

bool decodeCommit(std::string_view body, uint32_t& putCount) noexcept {
  if (body.size() != 4) return false;
  putCount = getU32(body.data());
  return true;
}

bool decodeState(std::string_view body, std::string_view& key, std::string_view& value) noexcept {
  const char* p = body.data();
  const char* end = p + body.size();
  return readBytes(p, end, key) && readBytes(p, end, value) && p == end;
}

}  // namespace sluice::plugins::filechannel
