# spooldir -> memory -> file_roll with the real binary: one file of SPOOL_LINES lines of 120 bytes
# is moved into the spool directory once the agent runs; timed from the move to the last byte on
# disk. Run with batchSize 1000 and with Flume's default 100 (one progress-record write per batch;
# the sink takes batches of the same size, since file_roll backs off on a short batch).
# Sourced by scripts/bench with BUILD, TMP and ROOT set.
SPOOL_LINES=${SPOOL_LINES:-2000000}
spooldir_bench() {
  local name=$1 batch=$2
  local dir="$TMP/spooldir" want=$((SPOOL_LINES * 121))
  mkdir -p "$dir/spool" "$dir/out" "$dir/stage"
  awk -v n="$SPOOL_LINES" 'BEGIN {
    pad = sprintf("%109s", ""); gsub(/ /, "x", pad)
    for (i = 0; i < n; i++) printf "%010d %s\n", i, pad }' > "$dir/stage/app.log"
  cat > "$dir/$name.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = spooldir
a1.sources.r1.channels = c1
a1.sources.r1.spoolDir = $dir/spool
a1.sources.r1.pollDelay = 20
a1.sources.r1.batchSize = $batch
a1.channels.c1.type = memory
a1.channels.c1.capacity = 20000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = $dir/out
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.batchSize = $batch
CFG
  "$BUILD/core/cli/sluice" agent -n a1 -f "$dir/$name.properties" --log-level info \
    --no-reload-conf > "$dir/agent.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do
    grep -q "started:" "$dir/agent.log" 2>/dev/null && break
    sleep 0.05
  done
  local t0 t1 have
  t0=$(date +%s.%N)
  mv "$dir/stage/app.log" "$dir/spool/app.log"
  while :; do
    have=$(find "$dir/out" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
    [ "$have" -ge "$want" ] && [ -e "$dir/spool/app.log.COMPLETED" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "$name: agent died"; cat "$dir/agent.log"; return 1; }
    sleep 0.05
  done
  t1=$(date +%s.%N)
  local hwm
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  awk -v n="$SPOOL_LINES" -v t0="$t0" -v t1="$t1" -v hwm="$hwm" -v name="$name" 'BEGIN {
    s = t1 - t0; printf "%-34s %12d lines  %8.3f s %14.0f lines/s %9.1f MB/s  peak RSS %6.1f MB\n",
    name, n, s, n / s, n * 121 / s / 1e6, hwm / 1024 }'
  rm -rf "$dir"
}
spooldir_bench spooldir-b1000-memory-file_roll 1000
spooldir_bench spooldir-b100-memory-file_roll 100
