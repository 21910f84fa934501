# The Thrift hop beside the Avro hop, in the same run: two agents with the real binary, tier 1
# (netcat -> memory -> avro or thrift sink) sending to tier 2 (avro or thrift source -> memory ->
# file_roll). THRIFT_LINES lines of 120 bytes from one local sender without per-line acks, timed
# from the first byte sent to the last byte on tier 2's disk: the avro hop, then the thrift hop
# in the compact protocol (Flume's default) and in the binary one. Prints events/s, MB/s and the
# peak RSS of each agent. Sourced by scripts/bench with BUILD, TMP and ROOT set.
# shellcheck source=scripts/bench.d/two_tiers.lib
source "$ROOT/scripts/bench.d/two_tiers.lib"
THRIFT_LINES=${THRIFT_LINES:-2000000}
THRIFT_BATCH=${THRIFT_BATCH:-1000}
hop_bench() {
  local name=$1 kind=$2 protocol=${3:-compact}
  local dir="$TMP/hop" nport hport proto_sink="" proto_source=""
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
  two_tiers_run "$name" "$THRIFT_LINES" "$dir" "$nport"
}
hop_bench "netcat-avro=>avro-file_roll" avro
hop_bench "netcat-thrift=>thrift-file_roll" thrift compact
hop_bench "netcat-thrift=>thrift binary" thrift binary
