# Two agents chained over Avro RPC with the real binary: tier 1 (netcat -> memory -> avro sink)
# sends to tier 2 (avro source -> memory -> file_roll). AVRO_LINES lines of 120 bytes from one
# local sender without per-line acks, timed from the first byte sent to the last byte on tier 2's
# disk; then the same with compression-type = deflate on the hop, and over TLS (a self-signed
# certificate made with openssl). Prints events/s, MB/s and the peak RSS of each agent. Sourced
# by scripts/bench with BUILD, TMP and ROOT set.
# shellcheck source=scripts/bench.d/two_tiers.lib
source "$ROOT/scripts/bench.d/two_tiers.lib"
AVRO_LINES=${AVRO_LINES:-2000000}
AVRO_BATCH=${AVRO_BATCH:-1000}
avro_bench() {
  local name=$1 compression=$2 ssl=${3:-false}
  local dir="$TMP/avro" nport aport
  mkdir -p "$dir/out"
  if [ "$ssl" = true ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
      -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1
    openssl pkcs12 -export -in "$dir/cert.pem" -inkey "$dir/key.pem" -out "$dir/ks.p12" \
      -passout pass:changeit >/dev/null 2>&1
  fi
  nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  aport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
a1.channels.c1.transactionCapacity = $AVRO_BATCH
a1.sinks.k1.type = avro
a1.sinks.k1.channel = c1
a1.sinks.k1.hostname = 127.0.0.1
a1.sinks.k1.port = $aport
a1.sinks.k1.batch-size = $AVRO_BATCH
a1.sinks.k1.compression-type = $compression
a1.sinks.k1.ssl = $ssl
a1.sinks.k1.truststore = $dir/cert.pem
a1.sinks.k1.truststore-type = PEM
a2.sources = r1
a2.channels = c1
a2.sinks = k1
a2.sources.r1.type = avro
a2.sources.r1.bind = 127.0.0.1
a2.sources.r1.port = $aport
a2.sources.r1.compression-type = $compression
a2.sources.r1.ssl = $ssl
a2.sources.r1.keystore = $dir/ks.p12
a2.sources.r1.keystore-type = PKCS12
a2.sources.r1.keystore-password = changeit
a2.sources.r1.channels = c1
a2.channels.c1.type = memory
a2.channels.c1.capacity = 20000
a2.channels.c1.transactionCapacity = $AVRO_BATCH
a2.sinks.k1.type = file_roll
a2.sinks.k1.channel = c1
a2.sinks.k1.sink.directory = $dir/out
a2.sinks.k1.sink.rollInterval = 0
a2.sinks.k1.sink.batchSize = $AVRO_BATCH
CFG
  two_tiers_run "$name" "$AVRO_LINES" "$dir" "$nport"
}
avro_bench "netcat-avro=>avro-file_roll" none
avro_bench "netcat-avro=>avro-file_roll deflate" deflate
avro_bench "netcat-avro=>avro-file_roll TLS" none true
