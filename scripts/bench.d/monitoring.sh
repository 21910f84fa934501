# seq -> memory -> null with the real binary and the monitoring server on, twice: once with a
# single slow completion poll, once while clients scrape /metrics/prometheus, /metrics and
# /api/status in a tight loop. The difference is what monitoring costs the data path.
# Sourced by scripts/bench with BUILD, TMP and ROOT set.
MON_EVENTS=${MON_EVENTS:-20000000}
monitoring_bench() {
  local name=$1 scrapers=$2
  local dir="$TMP/monitoring"
  mkdir -p "$dir"
  cat > "$dir/$name.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = $MON_EVENTS
a1.sources.r1.batchSize = 1000
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = null
a1.sinks.k1.batchSize = 1000
a1.sinks.k1.channel = c1
CFG
  local t0 t1 port pid
  t0=$(date +%s.%N)
  "$BUILD/core/cli/sluice" agent -n a1 -f "$dir/$name.properties" --no-reload-conf \
    --monitor-port 0 > "$dir/agent.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 400); do
    port=$(sed -n 's/.*monitoring: listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/agent.log")
    [ -n "$port" ] && break
    sleep 0.01
  done
  local scraper_pids=() requests="$dir/requests"
  : > "$requests"
  for _ in $(seq 1 "$scrapers"); do
    ( while :; do
        curl -s -o /dev/null "http://127.0.0.1:$port/metrics/prometheus"
        curl -s -o /dev/null "http://127.0.0.1:$port/metrics"
        curl -s -o /dev/null "http://127.0.0.1:$port/api/status"
        echo 3 >> "$requests"
      done ) &
    scraper_pids+=($!)
  done
  # Flume's /metrics is compact JSON (no space after the colon); older builds wrote one.
  until curl -s "http://127.0.0.1:$port/metrics" | grep -Eq "\"EventDrainSuccessCount\": ?\"$MON_EVENTS\""; do
    kill -0 "$pid" 2>/dev/null || { echo "$name: agent died"; cat "$dir/agent.log"; return 1; }
    sleep 0.02
  done
  t1=$(date +%s.%N)
  for p in "${scraper_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done
  local hwm served
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  served=$(awk '{s+=$1} END {print s+0}' "$requests")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  awk -v n="$MON_EVENTS" -v t0="$t0" -v t1="$t1" -v hwm="$hwm" -v name="$name" -v r="$served" 'BEGIN {
    s = t1 - t0; printf "%-34s %12d events %8.3f s %14.0f events/s %9s MB/s  peak RSS %6.1f MB  (%d HTTP requests, %.0f/s)\n",
    name, n, s, n / s, "-", hwm / 1024, r, r / s }'
}
monitoring_bench seq-memory-null+monitoring 0
monitoring_bench seq-memory-null+2-scrapers 2
