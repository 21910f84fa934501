#!/usr/bin/env python3
"""End-to-end tests of the Kafka sink and source with the real binary against librdkafka's
mock cluster in its own process (tests/support/kafka_mock.cpp), and kcat as an independent
client: exact counts through netcat -> kafka sink -> Kafka -> kafka source -> file_roll, kcat
interop both ways (keys and headers), kill -9 of the consuming agent mid-stream, and every
broker down while the sink runs."""

import json
import os
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.environ["SLUICE_SOURCE_ROOT"], "tests", "support"))
from sluice_test import Agent, lines_in, send_acked, wait_until  # noqa: E402
from kafka_test import MockKafka, kcat_consume, kcat_produce  # noqa: E402

# PLATFORM.md: a killed group member must not block a rejoin for long.
FAST_GROUP = {
    "kafka.consumer.session.timeout.ms": "6000",
    "kafka.consumer.max.poll.interval.ms": "10000",
    "kafka.consumer.auto.offset.reset": "earliest",
}


def properties(sources, channels, sinks):
    """A Flume .properties text for agent a1 from {name: {key: value}} per kind."""
    out = [f"a1.sources = {' '.join(sources)}", f"a1.channels = {' '.join(channels)}",
           f"a1.sinks = {' '.join(sinks)}"]
    for kind, comps in (("sources", sources), ("channels", channels), ("sinks", sinks)):
        for name, keys in comps.items():
            out += [f"a1.{kind}.{name}.{k} = {v}" for k, v in keys.items()]
    return "\n".join(out) + "\n"


class KafkaE2E(unittest.TestCase):
    def setUp(self):
        import tempfile
        self.tmp = tempfile.TemporaryDirectory(prefix="sluice-kafka-")
        self.addCleanup(self.tmp.cleanup)  # cleanups run last-in first-out: after agents stop
        self.dir = self.tmp.name

    def mock(self, topics):
        k = MockKafka(topics)
        self.addCleanup(k.stop)
        return k

    def agent(self, name, text, extra_args=()):
        conf = os.path.join(self.dir, f"{name}.properties")
        with open(conf, "w") as f:
            f.write(text)
        a = Agent(conf, self.dir, log_name=f"{name}.log", extra_args=extra_args)
        self.addCleanup(a.stop)
        a.wait_started(timeout=30)
        return a

    def producer_agent(self, k, sink_extra=None, name="producer", extra_args=()):
        """netcat (port 0: agent.port_of("r1")) -> memory -> Kafka sink to topic events."""
        sink = {"type": "org.apache.flume.sink.kafka.KafkaSink", "channel": "c1",
                "kafka.bootstrap.servers": k.bootstrap, "kafka.topic": "events",
                "flumeBatchSize": "100"}
        sink.update(sink_extra or {})
        return self.agent(name, properties(
            {"r1": {"type": "netcat", "bind": "127.0.0.1", "port": 0, "channels": "c1",
                    "batchSize": "100"}},
            {"c1": {"type": "memory", "capacity": "100000", "transactionCapacity": "1000"}},
            {"k1": sink}), extra_args)

    def consumer_agent(self, k, out, topic="events", channel=None, name="consumer",
                       batch="500"):
        src = {"type": "org.apache.flume.source.kafka.KafkaSource", "channels": "c1",
               "kafka.bootstrap.servers": k.bootstrap, "kafka.topics": topic,
               "kafka.consumer.group.id": "g1", "batchSize": batch,
               "batchDurationMillis": "200", **FAST_GROUP}
        return self.agent(name, properties(
            {"r1": src},
            {"c1": channel or {"type": "memory", "capacity": "100000",
                               "transactionCapacity": "1000"}},
            {"k1": {"type": "file_roll", "channel": "c1", "sink.directory": out,
                    "sink.rollInterval": "0", "sink.batchSize": batch}}))

    def test_netcat_to_kafka_to_file_roll_exact_counts(self):
        k = self.mock(["events:4"])
        out = os.path.join(self.dir, "out")
        producer = self.producer_agent(k)
        port = producer.port_of("r1")
        consumer = self.consumer_agent(k, out)
        sent = [f"line-{i:06d} " + "x" * 88 for i in range(5000)]
        replies = send_acked(port, sent, chunk=500)
        self.assertEqual(replies, ["OK"] * len(sent))
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(sent), 40),
                        consumer.text()[-3000:])
        self.assertEqual(producer.stop(), 0)
        self.assertEqual(consumer.stop(), 0)
        got = lines_in(out)
        self.assertEqual(len(got), len(sent))  # nothing lost, nothing repeated
        self.assertEqual(sorted(got), sent)
        # And Kafka holds each exactly once too.
        self.assertEqual(len(kcat_consume(k.bootstrap, "events", len(sent))), len(sent))

    def test_kcat_interop_both_ways_keys_and_headers(self):
        k = self.mock(["in:3", "out:2"])
        lines = [f"key{i % 7}:value {i}" for i in range(300)]
        kcat_produce(k.bootstrap, "in", lines, key_delim=":", headers=["origin=kcat"])
        src = {"type": "kafka", "channels": "c1", "kafka.bootstrap.servers": k.bootstrap,
               "kafka.topics": "in", "header.origin": "origin", "batchDurationMillis": "100",
               **FAST_GROUP}
        # allowTopicOverride = false: the source's topic header ("in") must not send the
        # events back where they came from (Flume's classic loop).
        sink = {"type": "kafka", "channel": "c1", "kafka.bootstrap.servers": k.bootstrap,
                "kafka.topic": "out", "allowTopicOverride": "false",
                "header.origin": "copied-origin", "header.partition": "source-partition"}
        relay = self.agent("relay", properties(
            {"r1": src},
            {"c1": {"type": "memory", "capacity": "10000", "transactionCapacity": "1000"}},
            {"k1": sink}))
        got = kcat_consume(k.bootstrap, "out", 300, timeout=40, fmt="%k|%h|%s\\n")
        self.assertEqual(len(got), 300, relay.text()[-3000:])
        want = sorted(f"key{i % 7}|value {i}" for i in range(300))
        seen = []
        for rec in got:
            key, hdrs, value = rec.split("|", 2)
            headers = dict(h.split("=", 1) for h in hdrs.split(","))
            self.assertEqual(headers["copied-origin"], "kcat")
            self.assertIn(headers["source-partition"], {"0", "1", "2"})
            seen.append(f"{key}|{value}")
        self.assertEqual(sorted(seen), want)
        self.assertEqual(relay.stop(), 0)

    def test_kill9_of_the_consuming_agent_loses_nothing(self):
        k = self.mock(["stream:4"])
        n = 60000
        sent = [f"s{i:07d}" for i in range(n)]
        kcat_produce(k.bootstrap, "stream", sent)
        out = os.path.join(self.dir, "out")
        file_channel = {"type": "file", "checkpointDir": os.path.join(self.dir, "cp"),
                        "dataDirs": os.path.join(self.dir, "data"),
                        "transactionCapacity": "1000"}
        batch = 500
        first = self.consumer_agent(k, out, topic="stream", channel=file_channel,
                                    batch=str(batch))
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= 5000, 30), first.text()[-3000:])
        first.kill9()
        at_kill = len(lines_in(out))
        self.assertLess(at_kill, n, "the stream ended before the kill; raise n")
        second = self.consumer_agent(k, out, topic="stream", channel=file_channel,
                                     batch=str(batch), name="consumer2")
        self.assertTrue(wait_until(lambda: len(set(lines_in(out))) >= n, 60),
                        second.text()[-3000:])
        self.assertEqual(second.stop(), 0)
        got = lines_in(out)
        self.assertEqual(set(got), set(sent))  # nothing lost
        dups = len(got) - n
        # At most the source's uncommitted batch (put into the file channel, offsets not yet
        # committed) plus the sink's uncommitted take (written, not yet committed).
        self.assertLessEqual(dups, batch + batch, f"{dups} duplicates")
        print(f"\nkill -9 at {at_kill}/{n} lines: {dups} duplicates (bound {2 * batch})",
              file=sys.stderr)

    def test_kafka_channel_netcat_to_file_roll(self):
        k = self.mock(["chan:3"])
        out = os.path.join(self.dir, "out")
        a = self.agent("channel", properties(
            {"r1": {"type": "netcat", "bind": "127.0.0.1", "port": 0, "channels": "c1",
                    "batchSize": "100"}},
            {"c1": {"type": "org.apache.flume.channel.kafka.KafkaChannel",
                    "kafka.bootstrap.servers": k.bootstrap, "kafka.topic": "chan",
                    "pollTimeout": "100",
                    "kafka.consumer.session.timeout.ms": "6000",
                    "kafka.consumer.max.poll.interval.ms": "10000"}},
            {"k1": {"type": "file_roll", "channel": "c1", "sink.directory": out,
                    "sink.rollInterval": "0", "sink.batchSize": "100"}}))
        port = a.port_of("r1")
        sent = [f"via-channel-{i:05d}" for i in range(2000)]
        self.assertEqual(send_acked(port, sent, chunk=200), ["OK"] * len(sent))
        # Acknowledged means in Kafka already (the put commits after Kafka's acks).
        self.assertEqual(len(kcat_consume(k.bootstrap, "chan", len(sent), timeout=10)), len(sent))
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(sent), 40), a.text()[-3000:])
        self.assertEqual(a.stop(), 0)
        self.assertEqual(sorted(lines_in(out)), sent)

    def test_every_broker_down_while_the_sink_runs(self):
        k = self.mock(["events:4"])
        producer = self.producer_agent(
            k, {"kafka.producer.message.timeout.ms": "2000"}, extra_args=["--monitor-port", "0"])
        port, mon = producer.port_of("r1"), producer.monitor_port()

        def metrics():
            with urllib.request.urlopen(f"http://127.0.0.1:{mon}/metrics", timeout=5) as r:
                return json.load(r)

        k.command("down all")
        sent = [f"held-{i:04d}" for i in range(300)]
        self.assertEqual(send_acked(port, sent, chunk=100), ["OK"] * 300)
        # The sink fails its batches and rolls them back: the events stay in the channel.
        self.assertTrue(wait_until(lambda: int(metrics()["SINK.k1"]["RollbackCount"]) >= 1, 30),
                        producer.text()[-3000:])
        m = metrics()
        self.assertEqual(int(m["SINK.k1"]["EventDrainSuccessCount"]), 0)
        self.assertEqual(int(m["CHANNEL.c1"]["ChannelSize"]), 300)
        self.assertIn("Failed to publish events", producer.text())
        k.command("up all")
        # Every event arrives. A batch that failed part-way while the brokers came back (some
        # partitions reconnected before the 2 s message timeout, some not) is sent again whole,
        # so a few may arrive twice: at least once, as the sink promises.
        self.assertTrue(wait_until(
            lambda: int(metrics()["SINK.k1"]["EventDrainSuccessCount"]) == 300, 40),
            producer.text()[-3000:])
        got = kcat_consume(k.bootstrap, "events", 300, timeout=10)
        self.assertEqual(set(got), set(sent))
        dups = len(got) - len(sent)
        self.assertLessEqual(dups, 300)
        print(f"\nbrokers back: {dups} duplicates", file=sys.stderr)
        self.assertEqual(int(metrics()["CHANNEL.c1"]["ChannelSize"]), 0)
        self.assertEqual(producer.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
