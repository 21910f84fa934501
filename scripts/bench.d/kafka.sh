# Kafka benchmarks (sourced by scripts/bench with BUILD, TMP and ROOT set), against librdkafka's
# mock cluster in its own process (tests/kafka_mock, 3 brokers). The mock cluster shares the
# machine's cores with the agent, so these figures are a floor for a real cluster elsewhere.
# The topic has 128 partitions because the mock keeps only the last 5 MB of each partition.
# Keyless messages go to one partition at a time (librdkafka's sticky partitioner, 10 ms per
# partition), so an unlucky partition can still overflow and lose its oldest messages (0.4% of
# 1,000,000 in one of our runs). The second run therefore counts what arrives ("~N": at least 90%
# of KAFKA_EVENTS, then 2 s without a new event) and stops its clock at the last event.
#
# 1. StressSource (100-byte bodies) -> memory -> kafka sink (flumeBatchSize 1000, acks 1):
#    timed until the sink has every event acknowledged by Kafka.
# 2. kafka source (batchSize 1000) -> memory -> null, reading the events of 1. from the
#    beginning as a new consumer group: timed (group join included) until the null sink has
#    taken them all.
KAFKA_EVENTS=${KAFKA_EVENTS:-1000000}

echo "--- kafka (librdkafka mock cluster, 3 brokers, 128 partitions) ---"
mkfifo "$TMP/kafka_mock.out"
"$BUILD/tests/kafka_mock" bench:128 > "$TMP/kafka_mock.out" &
KAFKA_MOCK_PID=$!
exec 7< "$TMP/kafka_mock.out"
read -r KAFKA_BOOTSTRAP <&7
trap 'kill "$KAFKA_MOCK_PID" 2>/dev/null || true' EXIT  # a subshell: only the mock

cat > "$TMP/stress100-memory-kafka_sink.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = org.apache.flume.source.StressSource
a1.sources.r1.size = 100
a1.sources.r1.maxTotalEvents = $KAFKA_EVENTS
a1.sources.r1.batchSize = 1000
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.channel = c1
a1.sinks.k1.kafka.bootstrap.servers = $KAFKA_BOOTSTRAP
a1.sinks.k1.kafka.topic = bench
a1.sinks.k1.flumeBatchSize = 1000
CFG

timeout 600 "$BUILD/tests/bench_agent" "$TMP/stress100-memory-kafka_sink.properties" a1 k1 "$KAFKA_EVENTS" 100 || echo "kafka sink run failed or timed out (exit $?)"

cat > "$TMP/kafka_source-memory-null.properties" <<CFG
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = org.apache.flume.source.kafka.KafkaSource
a1.sources.r1.kafka.bootstrap.servers = $KAFKA_BOOTSTRAP
a1.sources.r1.kafka.topics = bench
a1.sources.r1.kafka.consumer.group.id = bench
a1.sources.r1.kafka.consumer.auto.offset.reset = earliest
a1.sources.r1.batchSize = 1000
a1.sources.r1.batchDurationMillis = 100
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = null
a1.sinks.k1.batchSize = 1000
a1.sinks.k1.channel = c1
CFG
timeout 600 "$BUILD/tests/bench_agent" "$TMP/kafka_source-memory-null.properties" a1 k1 \
  "~$KAFKA_EVENTS" 100 || echo "kafka source run failed or timed out (exit $?)"
echo "kafka_mock peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2 / 1024}' "/proc/$KAFKA_MOCK_PID/status")"
kill -TERM "$KAFKA_MOCK_PID"
wait "$KAFKA_MOCK_PID" || true
exec 7<&-
