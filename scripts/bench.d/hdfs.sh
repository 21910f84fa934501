# hdfs sink benchmark (sourced by scripts/bench with BUILD, TMP and ROOT set): LINES lines of 120
# bytes from one local sender through netcat -> memory -> hdfs (DataStream, TEXT) with the real
# binary, timed from the first byte sent to the last byte on disk; then the same with the
# timestamp interceptor and a time-bucketed path (%Y%m%d/%H: an escape per event), and with
# CompressedStream gzip (timed until every file is closed by the stop). Prints lines/s, MB/s of
# event bytes (121 per line) and peak RSS.
HDFS_LINES=${LINES:-2000000}

hdfs_bench() {
  local name=$1 extra=$2 sink_extra=$3 wait_stop=${4:-}
  local port out
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  out="$TMP/$name"
  mkdir -p "$out"
  cat > "$TMP/$name.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = $port
a1.sources.r1.ack-every-event = false
a1.sources.r1.max-line-length = 512
a1.sources.r1.batchSize = 1000
a1.sources.r1.channels = c1
$extra
a1.channels.c1.type = memory
a1.channels.c1.capacity = 20000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = hdfs
a1.sinks.k1.channel = c1
a1.sinks.k1.hdfs.fileType = DataStream
a1.sinks.k1.hdfs.rollInterval = 0
a1.sinks.k1.hdfs.rollCount = 0
a1.sinks.k1.hdfs.rollSize = 134217728
a1.sinks.k1.hdfs.batchSize = 1000
$sink_extra
CFG
  "$BUILD/core/cli/sluice" agent -n a1 -f "$TMP/$name.properties" --log-level warn --no-reload-conf &
  AGENT_PID=$!
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
  done
  local want=$((HDFS_LINES * 121)) t0 t1 have hwm
  t0=$(date +%s.%N)
  "$BUILD/tests/line_sender" 127.0.0.1 "$port" "$HDFS_LINES" 120
  if [ "$wait_stop" = stop ]; then
    # Compressed: the byte count on disk is not known in advance. Every batch is a whole gzip
    # member, so files being written decompress too: when the files stop growing, count the lines
    # (not timed: t1 is when growth was last seen) and keep waiting until all are there.
    local last=-1 lines
    t1=$(date +%s.%N)
    while :; do
      sleep 0.2
      have=$(find "$out" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
      if [ "$have" -ne "$last" ]; then
        last=$have
        t1=$(date +%s.%N)
        continue
      fi
      lines=$(find "$out" -type f -exec cat {} + | gzip -dc 2>/dev/null | wc -l)
      [ "$lines" -ge "$HDFS_LINES" ] && break
    done
  else
    while :; do
      have=$(find "$out" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
      [ "$have" -ge "$want" ] && break
      sleep 0.1  # coarse on purpose: polling faster steals CPU from the agent on 2 cores
    done
    t1=$(date +%s.%N)
  fi
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
  kill -TERM "$AGENT_PID"
  wait "$AGENT_PID" || true
  AGENT_PID=
  awk -v n="$HDFS_LINES" -v t0="$t0" -v t1="$t1" -v hwm="$hwm" -v name="$name" 'BEGIN {
    s = t1 - t0; printf "%-34s %12d lines  %8.3f s %14.0f lines/s %9.1f MB/s  peak RSS %6.1f MB\n",
    name, n, s, n / s, n * 121 / s / 1e6, hwm / 1024 }'
  if [ "$wait_stop" = stop ]; then
    local lines
    lines=$(find "$out" -type f -name '*.gz' -exec gzip -dc {} + | wc -l)
    [ "$lines" -eq "$HDFS_LINES" ] || echo "  $name: expected $HDFS_LINES lines, gzip -d gave $lines" >&2
  fi
  rm -rf "$out"
}

hdfs_bench netcat-memory-hdfs-DataStream "" \
  "a1.sinks.k1.hdfs.path = $TMP/netcat-memory-hdfs-DataStream
a1.sinks.k1.hdfs.useLocalTimeStamp = true"
hdfs_bench netcat-ts-hdfs-bucketed "a1.sources.r1.interceptors = ts
a1.sources.r1.interceptors.ts.type = timestamp" \
  "a1.sinks.k1.hdfs.path = $TMP/netcat-ts-hdfs-bucketed/%Y%m%d/%H
a1.sinks.k1.hdfs.round = true
a1.sinks.k1.hdfs.roundValue = 10
a1.sinks.k1.hdfs.roundUnit = minute"
hdfs_bench netcat-memory-hdfs-gzip "" \
  "a1.sinks.k1.hdfs.path = $TMP/netcat-memory-hdfs-gzip
a1.sinks.k1.hdfs.useLocalTimeStamp = true
a1.sinks.k1.hdfs.fileType = CompressedStream
a1.sinks.k1.hdfs.codeC = gzip" stop
