#!/usr/bin/env python3
"""A Flume config that Flume runs starts unchanged: keys no component knows are warnings in
.properties (errors in TOML and under --strict). Real processes and files."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import BIN, AgentTestCase, run, wait_until  # noqa: E402

FLUME_NG = os.path.join(os.path.dirname(os.path.abspath(BIN)), "flume-ng")

# seq -> memory -> file_roll; {extra} holds the lines a test adds.
SEQ_FILE_ROLL = """a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = {n}
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = {out}
a1.sinks.k1.sink.rollInterval = 0
{extra}"""

# For reloads: the test plugin's paced source (2000 events/s) instead of seq.
PACED_FILE_ROLL = SEQ_FILE_ROLL.replace(
    "a1.sources.r1.type = seq\n",
    "a1.sources.r1.type = test.header_seq\na1.sources.r1.batchSize = 10\n"
    "a1.sources.r1.sleepMs = 5\n")

# What tutorials write for a Kafka sink, with two keys Flume silently ignores: the misspelled
# kafka.flumeBatchSize (Flume's key is flumeBatchSize) and processor.selector.maxTimeout (Flume
# reads maxTimeOut).
KAFKA_GROUP = """a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sinkgroups = g1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.kafka.bootstrap.servers = 127.0.0.1:9
a1.sinks.k1.kafka.topic = t
a1.sinks.k1.kafka.flumeBatchSize = 20
a1.sinks.k1.channel = c1
a1.sinks.k2.type = null
a1.sinks.k2.channel = c1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = load_balance
a1.sinkgroups.g1.processor.selector = round_robin
a1.sinkgroups.g1.processor.selector.maxTimeout = 10000
"""


def lines_in(directory):
    n = 0
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            with open(os.path.join(directory, name), errors="replace") as f:
                n += sum(1 for _ in f)
    return n


class UnknownKeysTest(AgentTestCase):
    dir_prefix = "sluice-compat-"

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_validate_warns_exits_0_and_strict_makes_it_an_error(self):
        cfg = self.write("kafka.properties", KAFKA_GROUP)
        r = run("validate", cfg)  # the file as the positional argument
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("agent 'a1' is valid", r.stdout)
        self.assertIn("warning: a1.sinks.k1.kafka.flumeBatchSize: unknown key for type 'kafka' "
                      "(did you mean 'flumeBatchSize'?) (" + cfg + ":11); Flume ignores an "
                      "unknown key too, so it is ignored (--strict makes this an error); `sluice "
                      "describe kafka` lists its keys", r.stderr)
        self.assertIn("warning: a1.sinkgroups.g1.processor.selector.maxTimeout: unknown key for "
                      "the round_robin selector (it has only selector.maxTimeOut) (did you mean "
                      "'selector.maxTimeOut'?) (" + cfg + ":18); Flume ignores", r.stderr)
        # Not handed to librdkafka as a producer property: no librdkafka complaint about it.
        self.assertNotIn("flumeBatchSize\" (", r.stderr)
        self.assertNotIn("error:", r.stderr)

        r = run("validate", "--strict", "-f", cfg)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sinks.k1.kafka.flumeBatchSize: unknown key for type 'kafka' "
                      "(did you mean 'flumeBatchSize'?) (" + cfg + ":11)", r.stderr)
        self.assertIn("error: a1.sinkgroups.g1.processor.selector.maxTimeout: unknown key",
                      r.stderr)
        self.assertIn("2 error(s); nothing was started", r.stderr)

    def test_toml_stays_strict(self):
        cfg = self.write("a.toml", """
[a1.sources.r1]
type = "seq"
channels = ["c1"]
totalEvnets = 3
[a1.channels.c1]
type = "memory"
[a1.sinks.k1]
type = "null"
channel = "c1"
""")
        r = run("validate", cfg)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sources.r1.totalEvnets: unknown key for type 'seq' (did you "
                      "mean 'totalEvents'?) (" + cfg + ":5)", r.stderr)

    def test_agent_starts_and_delivers_with_an_unknown_key_strict_refuses(self):
        out = os.path.join(self.dir, "out")
        os.mkdir(out)
        cfg = self.write("a.properties", SEQ_FILE_ROLL.format(
            n=500, out=out, extra="a1.sinks.k1.sink.rollIntervall = 30\n"))
        agent = self.start_agent(cfg)
        self.assertTrue(wait_until(lambda: lines_in(out) == 500, 60), agent.text()[-3000:])
        warning = ("a1.sinks.k1.sink.rollIntervall: unknown key for type 'file_roll' (did you "
                   "mean 'sink.rollInterval'?) (" + cfg + ":12); Flume ignores an unknown key too")
        self.assertEqual(agent.text().count(warning), 1, agent.text()[-3000:])
        agent.stop()

        r = run("agent", "-n", "a1", "-f", cfg, "--no-reload-conf", "--strict")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sinks.k1.sink.rollIntervall: unknown key", r.stderr)
        self.assertIn("nothing was started", r.stderr)

    def test_flume_ng_passes_strict_through(self):
        out = os.path.join(self.dir, "out")
        os.mkdir(out)
        cfg = self.write("a.properties", SEQ_FILE_ROLL.format(n=5, out=out,
                                                              extra="a1.sinks.k1.bogus = 1\n"))
        r = subprocess.run([FLUME_NG, "agent", "-n", "a1", "-f", cfg, "--no-reload-conf",
                            "--strict"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sinks.k1.bogus: unknown key for type 'file_roll'", r.stderr)

    def test_reload_warns_and_applies_or_under_strict_is_refused(self):
        out_a, out_b = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        os.mkdir(out_a)
        os.mkdir(out_b)
        cfg = self.write("live.properties", PACED_FILE_ROLL.format(n=10**6, out=out_a, extra=""))
        agent = self.start_agent(cfg, reload=True)
        self.assertTrue(wait_until(lambda: lines_in(out_a) >= 100, 60), agent.text()[-3000:])
        tmp = cfg + ".tmp"
        with open(tmp, "w") as f:
            f.write(PACED_FILE_ROLL.format(n=10**6, out=out_b, extra="a1.sinks.k1.bogusKey = 1\n"))
        os.rename(tmp, cfg)
        agent.wait_for("configuration reloaded", 60)
        self.assertIn("a1.sinks.k1.bogusKey: unknown key for type 'file_roll'", agent.text())
        self.assertIn("Flume ignores an unknown key too", agent.text())
        self.assertTrue(wait_until(lambda: lines_in(out_b) >= 100, 60), agent.text()[-3000:])
        agent.stop()

        # --strict: the same edit is refused and the running configuration kept.
        cfg2 = self.write("strict.properties", PACED_FILE_ROLL.format(n=10**6, out=out_a, extra=""))
        strict = self.start_agent(cfg2, reload=True, log_name="strict.log",
                                  extra_args=["--strict"])
        with open(tmp, "w") as f:
            f.write(PACED_FILE_ROLL.format(n=10**6, out=out_b, extra="a1.sinks.k1.bogusKey = 1\n"))
        os.rename(tmp, cfg2)
        strict.wait_for("reload refused", 60)
        self.assertIn("a1.sinks.k1.bogusKey: unknown key", strict.text())
        n = lines_in(out_a)
        self.assertTrue(wait_until(lambda: lines_in(out_a) > n + 50, 60), "flow stopped")
        self.assertTrue(strict.alive())
        strict.stop()


if __name__ == "__main__":
    unittest.main()
