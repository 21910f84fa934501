# http source benchmark (sourced by scripts/bench with BUILD, TMP and ROOT set): HTTP_EVENTS events
# (default 1,000,000) posted as JSON batches of 100 events (Flume's JSONHandler format, bodies of
# about 100 bytes, two headers each) by tests/http_post over keep-alive connections, one request
# after the other on each, into http -> memory -> null with the real binary. Timed from the first
# request to the last 200 (a 200 means the batch is committed in the channel); run with 1 and 4
# connections. The client runs on the same machine and takes CPU from the agent.
HTTP_EVENTS=${HTTP_EVENTS:-1000000}
http_bench() {
  local conns=$1
  local dir="$TMP/http"
  mkdir -p "$dir"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$dir/http.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = http
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = $port
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = null
a1.sinks.k1.batchSize = 1000
a1.sinks.k1.channel = c1
CFG
  python3 - "$dir/batch.json" <<'PY'
import json, sys
events = [{"headers": {"host": "web-%02d.example.com" % (i % 20), "seq": str(i)},
           "body": ("GET /api/v1/items/%06d 200 %d ms " % (i, i % 97)).ljust(100, "x")}
          for i in range(100)]
open(sys.argv[1], "w").write(json.dumps(events))
PY
  "$BUILD/core/cli/sluice" agent -n a1 -f "$dir/http.properties" --log-level warn \
    --no-reload-conf > "$dir/agent.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
  done
  local requests=$((HTTP_EVENTS / 100)) out
  out=$("$BUILD/tests/http_post" 127.0.0.1 "$port" "$requests" "$conns" "$dir/batch.json") ||
    echo "http_post reported failures: $out"
  local hwm
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || true
  echo "$out" | awk -v n="$HTTP_EVENTS" -v hwm="$hwm" -v c="$conns" -v bytes="$(stat -c %s "$dir/batch.json")" '{
    s = $9; printf "%-34s %12d events %8.3f s %14.0f events/s %9.1f MB/s  peak RSS %6.1f MB  (%d requests, %.0f requests/s)\n",
    "http-memory-null (" c " conn)", n, s, n / s, n / 100 * bytes / s / 1e6, hwm / 1024, $1, $1 / s }'
}
echo "--- http source: JSON batches of 100 events over keep-alive (client on the same machine) ---"
http_bench 1
http_bench 4
