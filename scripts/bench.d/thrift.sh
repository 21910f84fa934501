# The Thrift hop beside the Avro hop, in the same run: two agents with the real binary, tier 1
# (netcat -> memory -> avro or thrift sink) sending to tier 2 (avro or thrift source -> memory ->
# file_roll). THRIFT_LINES lines of 120 bytes from one local sender without per-line acks, timed
# from the first byte sent to the last byte on tier 2's disk: the avro hop, then the thrift hop
# in the compact protocol (Flume's default) and in the binary one. Prints events/s, MB/s and the
# peak RSS of each agent. Sourced by scripts/bench with BUILD, TMP and ROOT set.
THRIFT_LINES=${THRIFT_LINES:-2000000}
THRIFT_BATCH=${THRIFT_BATCH:-1000}
hop_bench() {
  local name=$1 kind=$2 protocol=${3:-compact}
  local dir="$TMP/hop" want=$((THRIFT_LINES * 121)) nport hport proto_sink="" proto_source=""
  mkdir -p "$dir/out"
  nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [ "$kind" = thrift ]; then
    proto_sink="a1.sinks.k1.protocol = $protocol"
    proto_source="a2.sources.r1.protocol = $protocol"
  fi
  cat > "$dir/tiers.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = $nport
a1.sources.r1.ack-every-event = false
a1.sources.r1.batchSize = 1000
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 20000
a1.channels.c1.transactionCapacity = $THRIFT_BATCH
a1.sinks.k1.type = $kind
a1.sinks.k1.channel = c1
a1.sinks.k1.hostname = 127.0.0.1
a1.sinks.k1.port = $hport
a1.sinks.k1.batch-size = $THRIFT_BATCH
$proto_sink
a2.sources = r1
a2.channels = c1
a2.sinks = k1
a2.sources.r1.type = $kind
a2.sources.r1.bind = 127.0.0.1
a2.sources.r1.port = $hport
a2.sources.r1.channels = c1
$proto_source
a2.channels.c1.type = memory
a2.channels.c1.capacity = 20000
a2.channels.c1.transactionCapacity = $THRIFT_BATCH
a2.sinks.k1.type = file_roll
a2.sinks.k1.channel = c1
a2.sinks.k1.sink.directory = $dir/out
a2.sinks.k1.sink.rollInterval = 0
a2.sinks.k1.sink.batchSize = $THRIFT_BATCH
CFG
  "$BUILD/core/cli/sluice" agent -n a2 -f "$dir/tiers.properties" --log-level warn \
    --no-reload-conf > "$dir/a2.log" 2>&1 &
  local pid2=$!
  "$BUILD/core/cli/sluice" agent -n a1 -f "$dir/tiers.properties" --log-level warn \
    --no-reload-conf > "$dir/a1.log" 2>&1 &
  local pid1=$!
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$nport") 2>/dev/null && break
    sleep 0.05
  done
  local t0 t1 have
  t0=$(date +%s.%N)
  "$BUILD/tests/line_sender" 127.0.0.1 "$nport" "$THRIFT_LINES" 120
  while :; do
    have=$(find "$dir/out" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
    [ "$have" -ge "$want" ] && break
    kill -0 "$pid1" 2>/dev/null && kill -0 "$pid2" 2>/dev/null ||
      { echo "$name: an agent died"; cat "$dir/a1.log" "$dir/a2.log"; return 1; }
    sleep 0.1  # coarse on purpose: polling faster steals CPU from the agents on 2 cores
  done
  t1=$(date +%s.%N)
  local hwm1 hwm2
  hwm1=$(awk '/VmHWM/ {print $2}' "/proc/$pid1/status")
  hwm2=$(awk '/VmHWM/ {print $2}' "/proc/$pid2/status")
  kill -TERM "$pid1" "$pid2"
  wait "$pid1" "$pid2" || true
  awk -v n="$THRIFT_LINES" -v t0="$t0" -v t1="$t1" -v h1="$hwm1" -v h2="$hwm2" -v name="$name" 'BEGIN {
    s = t1 - t0; printf "%-34s %12d lines  %8.3f s %14.0f lines/s %9.1f MB/s  peak RSS tier1 %6.1f MB, tier2 %6.1f MB\n",
    name, n, s, n / s, n * 121 / s / 1e6, h1 / 1024, h2 / 1024 }'
  rm -rf "$dir"
}
hop_bench "netcat-avro=>avro-file_roll" avro
hop_bench "netcat-thrift=>thrift-file_roll" thrift compact
hop_bench "netcat-thrift=>thrift binary" thrift binary
