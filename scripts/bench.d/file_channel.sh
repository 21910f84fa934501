# File channel benchmarks (sourced by scripts/bench with BUILD, TMP and ROOT set).
#
# 1. The disk's sequential write bandwidth with a final fdatasync (dd), the yardstick for the
#    durable figures below.
# 2. bench_channel_file: producer threads put and one consumer takes, every commit synced
#    (fsyncPerTransaction): batch 100 and 1000, 100-byte and 1 KB bodies, one and four producers.
# 3. The same through the real agent (StressSource -> file -> null, and 4 sources) next to the
#    memory channel, with bench_agent.
# 4. Restart time: 1,000,000 events put, the process exits without closing the channel (no
#    checkpoint on close, as after a crash), then the channel is opened again (checkpoint +
#    replay of the whole log tail).
FC_EVENTS=${FC_EVENTS:-2000000}
FC_BIN="$BUILD/plugins/bench_channel_file"

echo "--- file channel (durable: fdatasync per commit, group commit) ---"
rm -f "$TMP/dd"
dd_out=$(dd if=/dev/zero of="$TMP/dd" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1)
rm -f "$TMP/dd"
echo "disk: dd bs=1M count=1024 conv=fdatasync: $dd_out"

fc_run() {  # events batch body producers [fsync]
  rm -rf "$TMP/fc"
  "$FC_BIN" throughput "$TMP/fc" "$@"
}
fc_run "$FC_EVENTS" 1000 100 1
fc_run "$FC_EVENTS" 1000 100 4
fc_run $((FC_EVENTS / 4)) 100 100 1
fc_run $((FC_EVENTS / 4)) 100 100 4
fc_run $((FC_EVENTS / 4)) 1000 1024 1
fc_run $((FC_EVENTS / 4)) 1000 1024 4
fc_run $((FC_EVENTS / 8)) 100 1024 1
fc_run $((FC_EVENTS / 8)) 100 1024 4
rm -rf "$TMP/fc"

# The real pipeline, memory channel and file channel side by side.
fc_agent() {  # name channel-lines sources events
  local name=$1 channel=$2 nsrc=$3 events=$4 srcs="" i
  for i in $(seq 1 "$nsrc"); do srcs="$srcs r$i"; done
  {
    echo "a1.sources =$srcs"
    echo "a1.channels = c1"
    echo "a1.sinks = k1"
    for i in $(seq 1 "$nsrc"); do
      echo "a1.sources.r$i.type = org.apache.flume.source.StressSource"
      echo "a1.sources.r$i.size = 100"
      echo "a1.sources.r$i.maxTotalEvents = $((events / nsrc))"
      echo "a1.sources.r$i.batchSize = 1000"
      echo "a1.sources.r$i.channels = c1"
    done
    echo "$channel"
    echo "a1.sinks.k1.type = null"
    echo "a1.sinks.k1.batchSize = 1000"
    echo "a1.sinks.k1.channel = c1"
  } > "$TMP/$name.properties"
  "$BUILD/tests/bench_agent" "$TMP/$name.properties" a1 k1 "$events" 100
}
MEM_CHANNEL="a1.channels.c1.type = memory
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 1000"
FILE_CHANNEL="a1.channels.c1.type = file
a1.channels.c1.checkpointDir = $TMP/fca/checkpoint
a1.channels.c1.dataDirs = $TMP/fca/data
a1.channels.c1.capacity = 1000000
a1.channels.c1.transactionCapacity = 1000
a1.channels.c1.minimumRequiredSpace = 0"
fc_agent "stress100x1-memory-null" "$MEM_CHANNEL" 1 "$FC_EVENTS"
rm -rf "$TMP/fca"; fc_agent "stress100x1-file-null" "$FILE_CHANNEL" 1 "$FC_EVENTS"
fc_agent "stress100x4-memory-null" "$MEM_CHANNEL" 4 "$FC_EVENTS"
rm -rf "$TMP/fca"; fc_agent "stress100x4-file-null" "$FILE_CHANNEL" 4 "$FC_EVENTS"
rm -rf "$TMP/fca"

# Replay after a crash.
rm -rf "$TMP/fcr"
"$FC_BIN" fill "$TMP/fcr" 1000000 100  # exits without closing the channel, as a crash
"$FC_BIN" replay "$TMP/fcr"
"$FC_BIN" replay "$TMP/fcr"   # again, after a clean close: from the checkpoint alone
rm -rf "$TMP/fcr"
