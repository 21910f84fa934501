#include "sql_source.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace sluice::plugins::sql {
namespace {

constexpr int64_t kFirstReconnectDelayMs = 500;
constexpr int64_t kMaxReconnectDelayMs = 30000;
constexpr int64_t kRetryDelayMs = 200;  // after a lock wait timeout or a deadlock

std::string seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

// "2024-01-31 12:00:00.123+02" -> milliseconds since the epoch (for the offset gauge only).
int64_t epochMillis(std::string_view t) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const std::string head(t.substr(0, 19));
  const int n = std::sscanf(head.c_str(), "%4d-%2d-%2d%*[ T]%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s);
  if (n != 3 && n != 6) return 0;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  std::size_t i = n == 6 ? 19 : 10;
  if (i < t.size() && t[i] == '.') {
    int64_t frac = 0, scale = 1000;
    for (++i; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i) {
      if (scale > 1) {
        scale /= 10;
        frac += (t[i] - '0') * scale;
      }
    }
    ms += frac;
  }
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) {  // timestamptz: "+02", "-05:30"
    const int sign = t[i] == '-' ? -1 : 1;
    int oh = 0, om = 0;
    std::sscanf(std::string(t.substr(i + 1)).c_str(), "%2d:%2d", &oh, &om);
    ms -= int64_t{sign} * (int64_t{oh} * 3600 + int64_t{om} * 60) * 1000;
  }
  return ms;
}

std::size_t columnIndex(const std::vector<ColumnMeta>& cols, const std::string& exact,
                        const Identifier* configured) {
  for (std::size_t i = 0; i < cols.size(); ++i)
    if (cols[i].name == exact) return i;
  if (configured)
    for (std::size_t i = 0; i < cols.size(); ++i)
      if (sameName(*configured, cols[i].name)) return i;
  return cols.size();
}

}  // namespace

SqlSource::SqlSource() : reconnectDelayMs_(kFirstReconnectDelayMs) {
  sdk::SourceCounter& c = sourceCounter();
  if (c.add("RowsReadCount") != kRowsRead || c.add("PollCount") != kPolls ||
      c.add("EmptyPollCount") != kEmptyPolls || c.add("ErrorCount") != kErrors ||
      c.add("ReconnectCount") != kReconnects ||
      c.add("OffsetWriteFailCount") != kOffsetWriteFails ||
      c.add("CurrentOffsetGauge") != kCurrentOffset || c.add("ConnectedGauge") != kConnected)
    throw std::logic_error("SqlSource counter indices out of order");
}

SqlSource::~SqlSource() { stop(); }

void SqlSource::configure(const sdk::Context& context) {
  s_ = parseSettings(context);
  configured_ = true;
}

void SqlSource::start() {
  if (!configured_) throw std::runtime_error("start() before configure()");
  if (store_) return;
  auto store = makeOffsetStore(s_);
  try {
    store->open();
  } catch (const std::exception& e) {
    throw std::runtime_error(s_.path + ": " + e.what());
  }
  store_ = std::move(store);
  committed_.reset();
  offsetLoaded_ = false;
  auto initial = [&](std::optional<Offset> saved) -> std::optional<Offset> {
    if (saved) return saved;
    if (s_.useTable && s_.startFromBeginning) return std::nullopt;
    return Offset{s_.startFrom, ""};
  };
  identity_ = offsetIdentity(s_);
  // The channels' state first: it became durable with the rows themselves, so it is never behind
  // the status file or the offset table, which are saved after the commit.
  std::optional<Offset> fromChannels;
  if (std::optional<std::string> state = getChannelProcessor().committedState()) {
    std::string why;
    fromChannels = decodeOffsetState(identity_, *state, why);
    if (!fromChannels)
      logger().warn("the channels hold a state for this source that does not apply (", why,
                    "); resuming from ", store_->describe());
  }
  if (fromChannels) {
    committed_ = std::move(fromChannels);
    offsetLoaded_ = true;
    if (!store_->usesConnection()) {
      const std::optional<Offset> saved = store_->load();
      if (saved != committed_) {
        logger().info("the channels committed rows up to ", offsetText(committed_),
                      ", the status file says ", offsetText(saved),
                      " (the agent stopped between the two); resuming after the channels' offset");
        try {  // so that the status file tells the truth even if no new row comes
          store_->prepare(*committed_);
          store_->commit();
        } catch (const std::exception& e) {
          sourceCounter().increment(kOffsetWriteFails);
          logger().error("cannot save the offset in ", store_->describe(), ": ", e.what());
        }
      }
    }
  } else if (!store_->usesConnection()) {
    committed_ = initial(store_->load());
    offsetLoaded_ = true;
  }
  killAfterCommits_ = 0;
  commits_ = 0;
  if (const char* k = std::getenv("SLUICE_TEST_SQL_KILL_AFTER_COMMITS")) {
    killAfterCommits_ = std::atoll(k);
    if (killAfterCommits_ > 0)
      logger().warn("SLUICE_TEST_SQL_KILL_AFTER_COMMITS=", killAfterCommits_,
                    ": this process kills itself after that many batches (a test seam)");
  }
  wait_ = Wait::None;
  reconnectDelayMs_ = kFirstReconnectDelayMs;
  everConnected_ = false;
  sourceCounter().set(kConnected, 0);
  updateOffsetGauge();
  logger().info("reading ", s_.useTable ? "table " + s_.tableText : std::string("custom.query"),
                " from ", s_.url.display(), " as ", s_.connect.user,
                s_.connect.ssl ? " over TLS" : "", "; offsets in ", store_->describe(),
                offsetLoaded_ ? "; starting after " + offsetText(committed_) : std::string());
}

void SqlSource::stop() {
  disconnect();
  store_.reset();
  batch_.clear();
}

std::string SqlSource::readPassword() const {
  if (s_.passwordFile.empty()) return s_.password.value_or("");
  std::ifstream in(s_.passwordFile, std::ios::binary);
  if (!in)
    throw std::runtime_error(s_.path + "." + s_.passwordFileKey + ": cannot read '" +
                             s_.passwordFile + "'");
  std::string pw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  return pw;
}

bool SqlSource::connect() {
  ConnectOptions o = s_.connect;
  try {
    o.password = readPassword();
  } catch (const std::exception& e) {
    sourceCounter().increment(kErrors);
    scheduleReconnect();
    logger().error(e.what(), "; trying again in ", seconds(currentDelayMs_));
    return false;
  }
  try {
    conn_ = makeConnection(s_.url.dialect);
    conn_->connect(o);
    if (store_->usesConnection()) {
      store_->attach(o);
      if (!offsetLoaded_) {
        committed_ = store_->load();
        if (!committed_ && !(s_.useTable && s_.startFromBeginning))
          committed_ = Offset{s_.startFrom, ""};
        offsetLoaded_ = true;
      }
    }
    preparePageStatements();
  } catch (const SqlError& e) {
    sourceCounter().increment(kErrors);
    disconnect();
    scheduleReconnect();
    const std::string retry = "; trying again in " + seconds(getMaxBackOffSleepInterval());
    switch (e.kind()) {
      case ErrorKind::Auth:
        logger().error("cannot log in to ", s_.url.display(), " as '", s_.connect.user,
                       "': ", e.what(), retry);
        break;
      case ErrorKind::Connection:
        logger().warn("cannot connect to ", s_.url.display(), ": ", e.what(), retry);
        break;
      default:
        logger().error(s_.url.display(), ": ", e.what(), retry);
    }
    return false;
  }
  for (char& ch : o.password) ch = '\0';
  sourceCounter().set(kConnected, 1);
  sourceCounter().setOpenConnectionCount(1);
  if (everConnected_) {
    sourceCounter().increment(kReconnects);
    logger().info("reconnected to ", s_.url.display(), "; reading resumes after ",
                  offsetText(committed_));
  } else {
    logger().info("connected to ", s_.url.display(), " (", conn_->serverVersion(),
                  s_.connect.ssl ? ", TLS" : "", "); reading after ", offsetText(committed_));
  }
  everConnected_ = true;
  reconnectDelayMs_ = kFirstReconnectDelayMs;
  updateOffsetGauge();
  return true;
}

void SqlSource::disconnect() noexcept {
  first_.reset();
  after_.reset();
  afterTie_.reset();
  if (store_) store_->detach();
  if (conn_) conn_->close();
  conn_.reset();
  sourceCounter().set(kConnected, 0);
  sourceCounter().setOpenConnectionCount(0);
}

void SqlSource::preparePageStatements() {
  first_.reset();
  after_.reset();
  afterTie_.reset();
  const Dialect d = conn_->dialect();
  if (s_.useTable) {
    table_ = resolveTable(*conn_, s_.table, d == Dialect::MySql ? s_.url.database : "");
    selected_.clear();
    for (const Identifier& col : s_.columns) selected_.push_back(resolveColumn(*table_, col));
    incName_ = resolveColumn(*table_, *s_.incremental);
    tieName_.reset();
    if (s_.tieBreaker) tieName_ = resolveColumn(*table_, *s_.tieBreaker);
    after_ = conn_->prepare(
        tablePageQuery(d, *table_, selected_, incName_, std::nullopt, true, s_.maxRows).sql);
  } else {
    after_ = conn_->prepare(
        customPageQuery(d, s_.customQuery, s_.customPlaceholders, std::nullopt, s_.maxRows).sql);
    const auto& cols = after_->columns();
    if (cols.empty()) throw SqlError(ErrorKind::Query, "custom.query returns no columns");
    std::size_t i = 0;
    if (s_.incremental) {
      i = columnIndex(cols, s_.incremental->text, &*s_.incremental);
      if (i == cols.size())
        throw SqlError(ErrorKind::MissingObject,
                       "custom.query returns no column '" + s_.incremental->text + "'");
    }
    incName_ = cols[i].name;
    if (i != 0)  // order the page on that column instead of the first
      after_ = conn_->prepare(
          customPageQuery(d, s_.customQuery, s_.customPlaceholders, incName_, s_.maxRows).sql);
  }
  const std::vector<ColumnMeta>& cols = after_->columns();
  incIndex_ = columnIndex(cols, incName_, s_.incremental ? &*s_.incremental : nullptr);
  if (incIndex_ == cols.size())
    throw SqlError(ErrorKind::MissingObject, "the query returns no column '" + incName_ + "'");
  incKind_ = cols[incIndex_].kind;
  tieIndex_.reset();
  if (tieName_) {
    const std::size_t t = columnIndex(cols, *tieName_, &*s_.tieBreaker);
    if (t == cols.size())
      throw SqlError(ErrorKind::MissingObject, "the query returns no column '" + *tieName_ + "'");
    tieIndex_ = t;
  }
  FormatOptions f = s_.format;
  if (f.format == OutputFormat::Body) {
    f.bodyColumn = columnIndex(cols, s_.bodyColumn->text, &*s_.bodyColumn);
    if (f.bodyColumn == cols.size())
      throw SqlError(ErrorKind::MissingObject,
                     "the query returns no column '" + s_.bodyColumn->text + "' (body.column)");
  }
  // The formatter is kept across reconnects unless the columns changed (ALTER TABLE).
  bool same = formatter_ && formatterColumns_.size() == cols.size();
  for (std::size_t i = 0; same && i < cols.size(); ++i)
    same = cols[i].name == formatterColumns_[i].name && cols[i].kind == formatterColumns_[i].kind;
  if (!same) {
    formatter_ = std::make_unique<RowFormatter>(f, cols);
    formatterColumns_ = cols;
    if (incKind_ == ColumnKind::Temporal && !tieIndex_)
      logger().warn("incremental column ", incName_,
                    " holds timestamps but no tiebreaker.column.name is set: rows with the same "
                    "timestamp on both sides of a batch boundary would be skipped; set it to a "
                    "unique column such as the primary key");
    if (incKind_ != ColumnKind::Integer && incKind_ != ColumnKind::Temporal &&
        incKind_ != ColumnKind::Decimal)
      logger().warn("incremental column ", incName_,
                    " is neither an integer nor a timestamp; rows are ordered and compared as the "
                    "server compares its values");
  }
}

Statement& SqlSource::pageStatement() {
  const Dialect d = conn_->dialect();
  if (!committed_) {
    if (!first_)
      first_ = conn_->prepare(
          tablePageQuery(d, *table_, selected_, incName_, tieName_, false, s_.maxRows).sql);
    return *first_;
  }
  if (tieName_ && !committed_->tie.empty()) {
    if (!afterTie_) {
      PageQuery q = tablePageQuery(d, *table_, selected_, incName_, tieName_, true, s_.maxRows);
      afterTie_ = conn_->prepare(q.sql);
      afterTieBindings_ = std::move(q.bindings);
    }
    return *afterTie_;
  }
  return *after_;
}

sdk::Status SqlSource::process() {
  wait_ = Wait::None;
  if (!store_) return deliveryFailed("the SQL source is not started");
  if (!conn_ && !connect()) return sdk::Status::BACKOFF;
  try {
    return poll();
  } catch (const SqlError& e) {
    return failed(e);
  } catch (const std::exception& e) {
    // Anything else (out of memory while formatting a huge row): the same clean-up, so that
    // no half-built batch survives into the next poll.
    return failed(SqlError(ErrorKind::Query, e.what()));
  }
}

sdk::Status SqlSource::poll() {
  Statement& st = pageStatement();
  std::vector<Param> params;
  if (committed_) {
    const bool integerInc = incKind_ == ColumnKind::Integer;
    if (&st == afterTie_.get()) {
      const bool integerTie = formatterColumns_[*tieIndex_].kind == ColumnKind::Integer;
      for (int b : afterTieBindings_)
        params.push_back(b == 0 ? Param{committed_->value, integerInc}
                                : Param{committed_->tie, integerTie});
    } else {
      const std::size_t n = s_.useTable ? 1
                            : conn_->dialect() == Dialect::MySql
                                ? static_cast<std::size_t>(s_.customPlaceholders)
                                : 1;
      params.assign(n, Param{committed_->value, integerInc});
    }
  }
  sourceCounter().increment(kPolls);
  st.execute(params);
  pending_ = committed_.value_or(Offset{});
  std::size_t rows = 0;
  while (st.next(row_)) {
    ++rows;
    ++rowsNotCounted_;
    formatter_->format(row_, batch_.emplace_back());
    const Cell& inc = row_[incIndex_];
    if (!inc.null) {
      pending_.value.assign(inc.data, inc.size);
      if (tieIndex_) {
        const Cell& tie = row_[*tieIndex_];
        pending_.tie.assign(tie.null ? "" : tie.view());
      }
    } else if (!nullOffsetLogged_) {
      nullOffsetLogged_ = true;
      logger().warn("a row's incremental column ", incName_,
                    " is NULL; the offset stays at the previous row's value (logged once)");
    }
    if (batch_.size() >= s_.batchSize && !deliver()) {
      st.finish();
      wait_ = Wait::Refused;
      return sdk::Status::BACKOFF;
    }
  }
  if (!batch_.empty() && !deliver()) {
    wait_ = Wait::Refused;
    return sdk::Status::BACKOFF;
  }
  if (rows == 0) {
    sourceCounter().increment(kEmptyPolls);
    wait_ = Wait::Empty;
    return sdk::Status::BACKOFF;
  }
  return sdk::Status::READY;
}

bool SqlSource::deliver() {
  sdk::SourceCounter& c = sourceCounter();
  const auto n = static_cast<int64_t>(batch_.size());
  c.add(kRowsRead, static_cast<int64_t>(rowsNotCounted_));
  rowsNotCounted_ = 0;
  // The new offset is written aside first, so that after the channels' commit only the rename
  // (or the upsert) is left between the events being in a channel and the offset saying so.
  bool prepared = true;
  try {
    store_->prepare(pending_);
  } catch (const std::exception& e) {
    prepared = false;
    c.increment(kOffsetWriteFails);
    logger().error("cannot save the offset in ", store_->describe(), ": ", e.what(),
                   "; the batch goes to the channels, and a restart before the next save would "
                   "send it again");
  }
  c.addToEventReceivedCount(n);
  c.incrementAppendBatchReceivedCount();
  // The offset after this batch rides in the channels' put transactions (empties batch_).
  const sdk::Result r = getChannelProcessor().processEventBatchWithState(
      batch_, encodeOffsetState(identity_, pending_));
  batch_.clear();
  if (!r) {
    c.incrementChannelWriteFail();
    logger().warn("the channels refused a batch of ", n, " rows (", r.error(),
                  "); reading them again after ", offsetText(committed_));
    return false;
  }
  c.addToEventAcceptedCount(n);
  c.incrementAppendBatchAcceptedCount();
  committed_ = pending_;
  updateOffsetGauge();
  if (killAfterCommits_ > 0 && ++commits_ == killAfterCommits_) ::kill(::getpid(), SIGKILL);
  if (!prepared) return true;
  try {
    store_->commit();
  } catch (const std::exception& e) {
    c.increment(kOffsetWriteFails);
    logger().error("cannot save the offset ", offsetText(committed_), " in ", store_->describe(),
                   ": ", e.what(),
                   "; the rows are in the channels, and a restart before the next save would "
                   "send them again");
  }
  return true;
}

sdk::Status SqlSource::failed(const SqlError& e) {
  sourceCounter().increment(kErrors);
  sourceCounter().add(kRowsRead, static_cast<int64_t>(rowsNotCounted_));
  rowsNotCounted_ = 0;
  batch_.clear();  // not handed over: read again after the committed offset
  const std::string after = "after " + offsetText(committed_);
  if (e.kind() == ErrorKind::Transient) {
    for (auto* st : {first_.get(), after_.get(), afterTie_.get()})
      if (st) st->finish();
    wait_ = Wait::Retry;
    logger().warn("the query on ", s_.url.display(), " failed: ", e.what(),
                  "; running it again in ", seconds(kRetryDelayMs), " ", after);
    return sdk::Status::BACKOFF;
  }
  disconnect();
  scheduleReconnect();
  const std::string next =
      "; reconnecting in " + seconds(getMaxBackOffSleepInterval()) + ", reading resumes " + after;
  switch (e.kind()) {
    case ErrorKind::Connection:
      logger().warn("lost the connection to ", s_.url.display(), ": ", e.what(), next);
      break;
    case ErrorKind::MissingObject:
      logger().error(s_.url.display(), ": ", e.what(), " (dropped or renamed?)", next);
      break;
    default:
      logger().error(s_.url.display(), ": ", e.what(), next);
  }
  return sdk::Status::BACKOFF;
}

void SqlSource::scheduleReconnect() {
  wait_ = Wait::Reconnect;
  currentDelayMs_ = reconnectDelayMs_;
  reconnectDelayMs_ = std::min(reconnectDelayMs_ * 2, kMaxReconnectDelayMs);
}

int64_t SqlSource::waitMs(int64_t pollableDefault) const noexcept {
  switch (wait_) {
    case Wait::Empty:
      return s_.runQueryDelayMs;
    case Wait::Retry:
      return kRetryDelayMs;
    case Wait::Reconnect:
      return currentDelayMs_;
    default:
      return pollableDefault;
  }
}

int64_t SqlSource::getBackOffSleepIncrement() const noexcept {
  return waitMs(PollableSource::getBackOffSleepIncrement());
}

int64_t SqlSource::getMaxBackOffSleepInterval() const noexcept {
  return waitMs(PollableSource::getMaxBackOffSleepInterval());
}

std::string SqlSource::offsetText(const std::optional<Offset>& o) const {
  if (!o) return "the first row";
  const std::string inc = incName_.empty() && s_.incremental ? s_.incremental->text : incName_;
  std::string out = (inc.empty() ? std::string("offset") : inc) + " " + o->value;
  if (!o->tie.empty() && s_.tieBreaker) out += ", " + s_.tieBreaker->text + " " + o->tie;
  return out;
}

void SqlSource::updateOffsetGauge() {
  int64_t v = 0;
  if (committed_) {
    const std::string& t = committed_->value;
    if (incKind_ == ColumnKind::Temporal) {
      v = epochMillis(t);
    } else {
      const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || p != t.data() + t.size()) v = 0;
    }
  }
  sourceCounter().set(kCurrentOffset, v);
}

}  // namespace sluice::plugins::sql
