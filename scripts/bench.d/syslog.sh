# Syslog over TCP, sluice beside rsyslog and syslog-ng doing the same work on the same machine in
# the same run: SYSLOG_MSGS RFC 5424 messages of about 150 bytes (newline-framed, as logger and
# both daemons' plain TCP modes send them) over one connection and over eight, received and
# written to a file:
#   sluice:    syslogtcp -> memory -> file_roll
#   rsyslog:   imtcp -> omfile (template %msg%)
#   syslog-ng: network(flags(syslog-protocol)) -> file() (template ${MSG})
# Each is started with its own config in a temporary directory. Timed from the first byte sent to
# the last growth of the output (the output is then checked to hold every message). Prints
# messages/s, MB/s (of input) and peak RSS for each, and sluice's ratio to the faster of the
# other two. syslog-ng conflicts with rsyslog as a Debian package: an unpacked one is used through
# SYSLOG_NG (its usr/sbin/syslog-ng) when not on PATH; a daemon that is missing is skipped.
# Sourced by scripts/bench with BUILD, TMP and ROOT set.
SYSLOG_MSGS=${SYSLOG_MSGS:-2000000}

syslog_dir="$TMP/syslog"
mkdir -p "$syslog_dir"

# The messages, written once before any timing: <165>1 TIMESTAMP HOST APP PROCID MSGID SD MSG.
python3 - "$SYSLOG_MSGS" "$syslog_dir/input" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "wb") as f:
    chunk = []
    for i in range(n):
        m = (f'<165>1 2026-12-06T10:11:12.{i % 1000:03d}Z web{i % 16:02d}.example.com app 4242 '
             f'ID47 [ex@32473 seq="{i:08d}"] GET /index.html 200 user=alice took=12ms pad')
        chunk.append(m.ljust(149, "x") + "\n")
        if len(chunk) == 10000:
            f.write("".join(chunk).encode())
            chunk = []
    f.write("".join(chunk).encode())
PY
syslog_bytes=$(stat -c %s "$syslog_dir/input")

# Sends the input file over $2 connections to 127.0.0.1:$1, split at message boundaries, and
# prints the wall-clock time of the first byte sent (after the file is read and the
# connections are open, so that the sender's own start-up is not timed).
syslog_send() {
  python3 - "$1" "$2" "$syslog_dir/input" <<'PY'
import socket, sys, threading, time
port, conns, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
data = open(path, "rb").read()
cuts = [0]
for k in range(1, conns):
    cuts.append(data.index(b"\n", len(data) * k // conns) + 1)
cuts.append(len(data))
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
def send(k):
    socks[k].sendall(memoryview(data)[cuts[k]:cuts[k + 1]])
    socks[k].close()
ts = [threading.Thread(target=send, args=(k,)) for k in range(conns)]
print(f"{time.time():.6f}", flush=True)
for t in ts: t.start()
for t in ts: t.join()
PY
}

syslog_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

syslog_wait_port() {
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# Runs one measurement: $1 name, $2 pid, $3 port, $4 connections, $5 output dir. Prints the line
# and stores the rate in $syslog_dir/<name>.rate.
syslog_measure() {
  local name=$1 pid=$2 port=$3 conns=$4 out=$5 t0 t1 size last=-1 stable=0 lines hwm
  syslog_wait_port "$port" || { echo "$name: not listening"; kill "$pid"; return 1; }
  t0=$(syslog_send "$port" "$conns")
  # Done when the output has not grown for 2 s; the end is the output's last write (its newest
  # modification time), not the poll that saw it, which would add up to a poll interval.
  while [ "$stable" -lt 10 ]; do
    size=$(find "$out" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
    if [ "$size" != "$last" ]; then
      last=$size stable=0
    else
      stable=$((stable + 1))
    fi
    kill -0 "$pid" 2>/dev/null || { echo "$name: died"; return 1; }
    sleep 0.2  # coarse on purpose: polling faster steals CPU on 2 cores
  done
  t1=$(find "$out" -type f -printf '%T@\n' | sort -n | tail -1)
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  lines=$(find "$out" -type f -exec cat {} + | wc -l)
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  [ "$lines" -eq "$SYSLOG_MSGS" ] || echo "$name: WARNING: $lines of $SYSLOG_MSGS messages written"
  awk -v n="$SYSLOG_MSGS" -v b="$syslog_bytes" -v t0="$t0" -v t1="$t1" -v hwm="$hwm" \
      -v name="$name" -v f="$syslog_dir/$name.rate" 'BEGIN {
    s = t1 - t0; printf "%-34s %12d msgs  %8.3f s %14.0f msgs/s %9.1f MB/s  peak RSS %6.1f MB\n",
    name, n, s, n / s, b / s / 1e6, hwm / 1024; printf "%f\n", n / s > f }'
}

syslog_sluice() {
  local conns=$1 port dir="$syslog_dir/sluice-$1"
  port=$(syslog_free_port)
  mkdir -p "$dir/out"
  cat > "$dir/a1.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = syslogtcp
a1.sources.r1.host = 127.0.0.1
a1.sources.r1.port = $port
a1.sources.r1.batchSize = 1000
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 20000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = $dir/out
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.batchSize = 1000
CFG
  "$BUILD/core/cli/sluice" agent -n a1 -f "$dir/a1.properties" --log-level warn \
    --no-reload-conf > "$dir/agent.log" 2>&1 &
  syslog_measure "sluice syslogtcp x$conns" $! "$port" "$conns" "$dir/out"
  rm -rf "$dir"
}

syslog_rsyslog() {
  local conns=$1 port dir="$syslog_dir/rsyslog-$1" exe
  exe=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
  [ -x "$exe" ] || { echo "rsyslog: not installed, skipped"; return 0; }
  port=$(syslog_free_port)
  mkdir -p "$dir/out" "$dir/work"
  cat > "$dir/rsyslog.conf" <<CFG
global(workDirectory="$dir/work")
module(load="imtcp")
template(name="msg" type="string" string="%msg%\n")
input(type="imtcp" address="127.0.0.1" port="$port" ruleset="bench")
ruleset(name="bench") {
  action(type="omfile" file="$dir/out/messages" template="msg" asyncWriting="on"
         ioBufferSize="256k" flushOnTXEnd="off")
}
CFG
  "$exe" -n -f "$dir/rsyslog.conf" -i "$dir/pid" > "$dir/rsyslog.log" 2>&1 &
  syslog_measure "rsyslog imtcp x$conns" $! "$port" "$conns" "$dir/out"
  rm -rf "$dir"
}

syslog_ng() {
  local conns=$1 port dir="$syslog_dir/syslog-ng-$1" exe root mods
  exe=${SYSLOG_NG:-$(command -v syslog-ng || true)}
  if [ -z "$exe" ] || [ ! -x "$exe" ]; then
    echo "syslog-ng: not found (set SYSLOG_NG), skipped"
    return 0
  fi
  root=$(dirname "$(dirname "$(dirname "$(readlink -f "$exe")")")")
  mods=$(find "$root/usr/lib/syslog-ng" -maxdepth 1 -name '3.*' -type d 2>/dev/null | head -1)
  port=$(syslog_free_port)
  mkdir -p "$dir/out"
  cat > "$dir/syslog-ng.conf" <<CFG
@version: 3.38
options { use-dns(no); keep-hostname(yes); log-fifo-size(100000); flush-lines(1000); };
source s_bench { network(ip("127.0.0.1") port($port) transport("tcp") flags(syslog-protocol)
                 max-connections(100) log-iw-size(100000)); };
destination d_bench { file("$dir/out/messages" template("\${MSG}\n")); };
log { source(s_bench); destination(d_bench); };
CFG
  LD_LIBRARY_PATH="$root/usr/lib/syslog-ng${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$exe" -F -f "$dir/syslog-ng.conf" --persist-file "$dir/persist" --pidfile "$dir/pid" \
    --control "$dir/ctl" --no-caps ${mods:+--module-path="$mods"} > "$dir/syslog-ng.log" 2>&1 &
  syslog_measure "syslog-ng network() x$conns" $! "$port" "$conns" "$dir/out"
  rm -rf "$dir"
}

for conns in 1 8; do
  syslog_sluice "$conns"
  syslog_rsyslog "$conns"
  syslog_ng "$conns"
  awk -v c="$conns" -v d="$syslog_dir" 'BEGIN {
    f = d "/sluice syslogtcp x" c ".rate"; if ((getline s < f) <= 0) exit
    best = 0
    f = d "/rsyslog imtcp x" c ".rate"; if ((getline r < f) > 0 && r > best) best = r
    f = d "/syslog-ng network() x" c ".rate"; if ((getline g < f) > 0 && g > best) best = g
    if (best > 0) printf "%-34s %.2fx the faster of rsyslog and syslog-ng\n", "syslog x" c " ratio", s / best }'
done
rm -rf "$syslog_dir"
