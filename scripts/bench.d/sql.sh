# SQL source benchmark (sourced by scripts/bench with BUILD, TMP and ROOT set): rows/s of the sql
# source reading a 1,000,000-row table into a null sink through a memory channel, for MariaDB and
# PostgreSQL, beside the server's own export of the same rows in the same run (mariadb --batch
# --quick, psql COPY ... TO STDOUT, both written to a file), the ratio of the two, and the peak
# RSS of the agent. The servers (tests/support/sql_servers.py) run on this machine, so they share
# its cores with the agent, as they do with their own export. batch.size is 10000: every batch
# costs two fsyncs of the status file (plugins/source_sql/README.md, "Performance").
#
#   ONLY=sql scripts/bench        SQL_ROWS=200000 ONLY=sql scripts/bench
SQL_ROWS=${SQL_ROWS:-1000000}
QUERY="SELECT * FROM bench ORDER BY id"

echo "--- sql source ($SQL_ROWS rows: id BIGINT, name VARCHAR(64), amount DECIMAL(12,2), score DOUBLE, created DATETIME(3)/TIMESTAMP(3), note TEXT, 10% NULL) ---"
mkfifo "$TMP/sql_servers.in" "$TMP/sql_servers.out"
python3 "$ROOT/tests/support/sql_servers.py" --serve <"$TMP/sql_servers.in" >"$TMP/sql_servers.out" &
SQL_SERVERS_PID=$!
exec 8>"$TMP/sql_servers.in"  # closing it stops the servers
exec 9<"$TMP/sql_servers.out"
trap 'exec 8>&-; wait "$SQL_SERVERS_PID" 2>/dev/null || true' EXIT  # a subshell: only the servers
while read -r line <&9; do
  [ "$line" = ready ] && break
  [[ $line =~ ^(SQL_[A-Z_]+)=(.*)$ ]] && printf -v "${BASH_REMATCH[1]}" '%s' "${BASH_REMATCH[2]}"
done
[ -n "${SQL_MYSQL_URL:-}" ] && [ -n "${SQL_PG_URL:-}" ] || { echo "sql: the test servers did not start"; exit 0; }

mariadb_root() { mariadb --no-defaults --socket="$SQL_MYSQL_SOCKET" -uroot "$@" "$SQL_MYSQL_DATABASE"; }
psql_root() { psql -h "$SQL_PG_SOCKET" -p "$SQL_PG_PORT" -U postgres -d "$SQL_PG_DATABASE" -X -q "$@"; }
mariadb_root -e "CREATE TABLE bench (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL,
  amount DECIMAL(12,2), score DOUBLE, created DATETIME(3) NOT NULL, note TEXT);
  INSERT INTO bench SELECT seq, CONCAT('customer-', seq), seq % 100000 / 100, seq / 7,
  TIMESTAMP('2024-01-01') + INTERVAL seq SECOND,
  IF(seq % 10 = 0, NULL, 'a note of some forty characters or so...') FROM seq_1_to_$SQL_ROWS"
psql_root -c "CREATE TABLE bench (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL,
  amount NUMERIC(12,2), score DOUBLE PRECISION, created TIMESTAMP(3) NOT NULL, note TEXT);
  INSERT INTO bench SELECT g, 'customer-' || g, (g % 100000) / 100.0, g / 7.0,
  TIMESTAMP '2024-01-01' + g * INTERVAL '1 second',
  CASE WHEN g % 10 = 0 THEN NULL ELSE 'a note of some forty characters or so...' END
  FROM generate_series(1, $SQL_ROWS) g; ALTER TABLE bench OWNER TO $SQL_PG_USER" >/dev/null
psql_root -c "VACUUM ANALYZE bench" >/dev/null
printf '%s\n' "$SQL_MYSQL_PASSWORD" >"$TMP/mysql.pw"
printf '%s\n' "$SQL_PG_PASSWORD" >"$TMP/pg.pw"

# sql_bench <name> <url> <user> <password file> <export command...>
sql_bench() {
  local name=$1 url=$2 user=$3 pw=$4
  shift 4
  local t0 t1 export_rate line agent_rate
  # The server's own export, timed to the last byte in the file (a warm-up run first).
  "$@" >"$TMP/export.out"
  t0=$(date +%s.%N)
  "$@" >"$TMP/export.out"
  t1=$(date +%s.%N)
  export_rate=$(awk -v n="$SQL_ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
  printf '%-34s %12d rows   %8.3f s %14.0f rows/s (%s)\n' "$name-export" "$SQL_ROWS" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$export_rate" "$(basename "$1")"
  rm -f "$TMP/export.out"
  cat >"$TMP/sql-$name.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = sql
a1.sources.r1.connection.url = $url
a1.sources.r1.connection.user = $user
a1.sources.r1.connection.password.file = $pw
a1.sources.r1.table = bench
a1.sources.r1.incremental.column.name = id
a1.sources.r1.status.file.path = $TMP/sql-status
a1.sources.r1.status.file.name = $name.status
a1.sources.r1.batch.size = 10000
a1.sources.r1.max.rows = 100000
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 20000
a1.channels.c1.transactionCapacity = 10000
a1.sinks.k1.type = null
a1.sinks.k1.batchSize = 1000
a1.sinks.k1.channel = c1
CFG
  rm -rf "$TMP/sql-status"
  line=$(timeout 600 "$BUILD/tests/bench_agent" "$TMP/sql-$name.properties" a1 k1 "$SQL_ROWS" 0 |
    sed "s/^sql-$name.properties/sql-$name/") || { echo "sql-$name: bench_agent failed or timed out"; return; }
  echo "$line"
  agent_rate=$(echo "$line" | awk '{ for (i = 1; i < NF; i++) if ($(i + 1) == "events/s") print $i }')
  awk -v a="$agent_rate" -v e="$export_rate" -v name="$name" 'BEGIN {
    printf "%-34s %.2f x the server'"'"'s own export (goal: at least 0.5)\n", name " sql/export", a / e }'
}
sql_bench mariadb "$SQL_MYSQL_URL" "$SQL_MYSQL_USER" "$TMP/mysql.pw" \
  mariadb --no-defaults --socket="$SQL_MYSQL_SOCKET" -uroot --batch --quick -N "$SQL_MYSQL_DATABASE" -e "$QUERY"
sql_bench postgresql "$SQL_PG_URL" "$SQL_PG_USER" "$TMP/pg.pw" \
  psql -h "$SQL_PG_SOCKET" -p "$SQL_PG_PORT" -U postgres -d "$SQL_PG_DATABASE" -X -q -c "COPY ($QUERY) TO STDOUT"
exec 8>&-
wait "$SQL_SERVERS_PID" || true
exec 9<&-
