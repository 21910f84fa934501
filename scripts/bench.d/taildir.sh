# TAILDIR with the real binary, into (1) memory -> file_roll and (2) file channel -> hdfs
# (DataStream): a file of TAILDIR_LINES lines of 120 bytes is moved into the watched directory
# once the agent runs; timed from the move to the last byte on disk. Sourced by scripts/bench
# with BUILD, TMP and ROOT set.
TAILDIR_LINES=${TAILDIR_LINES:-2000000}
# taildir_bench NAME CHANNEL_AND_SINK_CONFIG: in the config, @DIR@ is the work directory; the
# sink writes to @DIR@/out.
taildir_bench() {
  local name=$1 dir="$TMP/taildir" want=$((TAILDIR_LINES * 121))
  mkdir -p "$dir/logs" "$dir/out" "$dir/stage"
  awk -v n="$TAILDIR_LINES" 'BEGIN {
    pad = sprintf("%109s", ""); gsub(/ /, "x", pad)
    for (i = 0; i < n; i++) printf "%010d %s\n", i, pad }' > "$dir/stage/app.log"
  cat > "$dir/$name.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.channels = c1
a1.sources.r1.filegroups = g1
a1.sources.r1.filegroups.g1 = $dir/logs/app\\\\.log
a1.sources.r1.positionFile = $dir/taildir_position.json
a1.sources.r1.batchSize = 1000
a1.sinks.k1.channel = c1
${2//@DIR@/$dir}
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
  mv "$dir/stage/app.log" "$dir/logs/app.log"
  while :; do
    have=$(find "$dir/out" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
    [ "$have" -ge "$want" ] && break
    kill -0 "$pid" 2>/dev/null || { echo "$name: agent died"; cat "$dir/agent.log"; return 1; }
    sleep 0.05
  done
  t1=$(date +%s.%N)
  local hwm cpu
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  # CPU seconds the agent used (user + system): a figure that depends less on other load.
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat")
  kill -TERM "$pid"
  wait "$pid" || true
  awk -v n="$TAILDIR_LINES" -v t0="$t0" -v t1="$t1" -v hwm="$hwm" -v name="$name" -v cpu="$cpu" 'BEGIN {
    s = t1 - t0; printf "%-34s %12d lines  %8.3f s %14.0f lines/s %9.1f MB/s  peak RSS %6.1f MB  (agent CPU %.2f s, %.0f MB per CPU-s)\n",
    name, n, s, n / s, n * 121 / s / 1e6, hwm / 1024, cpu, n * 121 / 1e6 / cpu }'
  rm -rf "$dir"
}
taildir_bench taildir-memory-file_roll '
a1.channels.c1.type = memory
a1.channels.c1.capacity = 20000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = file_roll
a1.sinks.k1.sink.directory = @DIR@/out
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.batchSize = 1000'
# The user guide's "tail a log into time-bucketed files" path, without the buckets: every event
# is written twice (the file channel's log, then the hdfs file); the file channel fsyncs every
# put and take commit (fsyncPerTransaction, Flume's default), which bounds this figure.
taildir_bench taildir-file-hdfs '
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = @DIR@/checkpoint
a1.channels.c1.dataDirs = @DIR@/data
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = hdfs
a1.sinks.k1.hdfs.path = @DIR@/out
a1.sinks.k1.hdfs.fileType = DataStream
a1.sinks.k1.hdfs.rollInterval = 0
a1.sinks.k1.hdfs.rollCount = 0
a1.sinks.k1.hdfs.rollSize = 134217728
a1.sinks.k1.hdfs.batchSize = 1000'
