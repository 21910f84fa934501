#!/usr/bin/env python3
"""End-to-end tests of the hdfs sink with the real binary: netcat or seq -> memory -> hdfs, time
bucketing from a timestamp header (regex_extractor or timestamp interceptor), gzip output read by
`gzip -d`, renames on stop, in-use files closed out after kill -9, config errors."""

import datetime
import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "support"))
from sluice_test import Agent, run, send_lines, wait_until  # noqa: E402

NETCAT_HDFS = """
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
a1.sources.r1.interceptors = i1 i2
a1.sources.r1.interceptors.i1.type = regex_extractor
a1.sources.r1.interceptors.i1.regex = ^(\\\\d+)\\\\s
a1.sources.r1.interceptors.i1.serializers = s1
a1.sources.r1.interceptors.i1.serializers.s1.name = timestamp
a1.sources.r1.interceptors.i2.type = static
a1.sources.r1.interceptors.i2.key = dc
a1.sources.r1.interceptors.i2.value = nyc1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = hdfs
a1.sinks.k1.channel = c1
a1.sinks.k1.hdfs.path = file://{out}/%{{dc}}/%Y%m%d/%H%M
a1.sinks.k1.hdfs.filePrefix = events
a1.sinks.k1.hdfs.fileType = DataStream
a1.sinks.k1.hdfs.round = true
a1.sinks.k1.hdfs.roundValue = 10
a1.sinks.k1.hdfs.roundUnit = minute
a1.sinks.k1.hdfs.timeZone = UTC
a1.sinks.k1.hdfs.rollCount = 0
a1.sinks.k1.hdfs.rollSize = 0
a1.sinks.k1.hdfs.rollInterval = 0
a1.sinks.k1.hdfs.batchSize = 50
"""

SEQ_GZIP = """
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = {n}
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1
a1.sources.r1.interceptors = ts
a1.sources.r1.interceptors.ts.type = timestamp
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = org.apache.flume.sink.hdfs.HDFSEventSink
a1.sinks.k1.channel = c1
a1.sinks.k1.hdfs.path = {out}/%Y%m%d/%H
a1.sinks.k1.hdfs.fileType = CompressedStream
a1.sinks.k1.hdfs.codeC = gzip
a1.sinks.k1.hdfs.rollCount = 1000
a1.sinks.k1.hdfs.rollSize = 0
a1.sinks.k1.hdfs.batchSize = 250
"""

T0 = 1704164645678  # 2024-01-02T03:04:05.678Z


def files_under(d):
    return sorted(p for p in glob.glob(os.path.join(d, "**", "*"), recursive=True) if os.path.isfile(p))


def expected_dir(ts_ms):
    t = datetime.datetime.fromtimestamp(ts_ms / 1000, datetime.timezone.utc)
    t = t.replace(minute=t.minute - t.minute % 10, second=0, microsecond=0)
    return t.strftime("%Y%m%d/%H%M")


class HdfsSinkTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sluice-hdfs-e2e-")
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "out")
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            a.kill9()
        self.tmp.cleanup()

    def start(self, text, name="agent.conf", log="agent.log", overrides=None):
        conf = os.path.join(self.dir, name)
        with open(conf, "w") as f:
            f.write(text)
        a = Agent(conf, self.dir, log_name=log, overrides=overrides)
        self.agents.append(a)
        a.wait_started()
        return a

    def test_bucketing_round_10_minutes_and_rename_on_stop(self):
        agent = self.start(NETCAT_HDFS.format(out=self.out))
        port = agent.port_of("r1")
        # Timestamps spread over 3 hours and a day boundary; each line names its own.
        stamps = [T0 + i * 97_000 for i in range(120)] + [T0 + 86_400_000 + i for i in range(5)]
        lines = [f"{ts} line-{i}" for i, ts in enumerate(stamps)]
        replies = send_lines(port, lines, read_acks=True)
        self.assertEqual(replies, ["OK"] * len(lines))
        expected = {}
        for ts, line in zip(stamps, lines):
            expected.setdefault("nyc1/" + expected_dir(ts), []).append(line)

        def all_written():
            n = 0
            for p in files_under(self.out):
                with open(p) as f:
                    n += f.read().count("\n")
            return n == len(lines)
        self.assertTrue(wait_until(all_written, 30), files_under(self.out))
        self.assertTrue(any(p.endswith(".tmp") for p in files_under(self.out)))
        self.assertEqual(agent.stop(), 0, agent.text()[-3000:])

        got = {}
        for p in files_under(self.out):
            rel = os.path.relpath(p, self.out)
            self.assertFalse(rel.endswith(".tmp"), rel)
            d, name = os.path.split(rel)
            self.assertRegex(name, r"^events\.\d+$")
            with open(p) as f:
                got.setdefault(d, []).extend(f.read().splitlines())
        self.assertEqual(sorted(got), sorted(expected))
        for d in expected:
            self.assertEqual(got[d], expected[d], d)

    def test_events_without_a_timestamp_are_dropped_one_by_one(self):
        """Lines without a leading timestamp get no timestamp header: with the default
        hdfs.missingTimestampPolicy (drop) each is counted and dropped, the lines around them
        are written to their buckets, and the sink never stalls on them."""
        agent = self.start(NETCAT_HDFS.format(out=self.out),
                           overrides={"flume.monitoring.type": "http",
                                      "flume.monitoring.port": "0"})
        port, mport = agent.port_of("r1"), agent.monitor_port()
        lines = [f"{T0 + i * 1000} line-{i}" if i % 5 else f"no-ts line-{i}" for i in range(200)]
        good = [l for l in lines if not l.startswith("no-ts")]
        self.assertEqual(send_lines(port, lines, read_acks=True), ["OK"] * len(lines))

        def written():
            out = []
            for p in files_under(self.out):
                with open(p) as f:
                    out.extend(f.read().splitlines())
            return out
        self.assertTrue(wait_until(lambda: len(written()) == len(good), 30), written())

        def sink_metrics():
            with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=10) as r:
                return json.load(r)["SINK.k1"]
        self.assertTrue(wait_until(
            lambda: sink_metrics().get("EventDrainSuccessCount") == str(len(good)), 30),
            sink_metrics())
        m = sink_metrics()
        self.assertEqual(m["EventTimestampMissingCount"], str(len(lines) - len(good)))
        self.assertEqual(m["EventDrainAttemptCount"], str(len(lines)))
        self.assertEqual(m["EventWriteFail"], "0")
        # One log line for the first of them (rate-limited), naming the cause and the fix.
        text = agent.text()
        self.assertEqual(text.count("dropped it (hdfs.missingTimestampPolicy = drop)"), 1, text)
        self.assertIn("add the timestamp interceptor or set hdfs.useLocalTimeStamp = true", text)
        self.assertEqual(agent.stop(), 0, agent.text()[-3000:])
        self.assertEqual(sorted(written(), key=lambda l: int(l.split("-")[-1])), good)
        self.assertEqual(sorted(os.path.relpath(os.path.dirname(p), self.out)
                                for p in files_under(self.out)),
                         sorted({"nyc1/" + expected_dir(int(l.split()[0])) for l in good}))

    def test_gzip_output_readable_by_gzip_d(self):
        n = 5000
        agent = self.start(SEQ_GZIP.format(n=n, out=self.out))

        def gunzipped_lines():
            # Every batch is a whole gzip member, so even a file still being written decompresses.
            n = 0
            for p in files_under(self.out):
                r = subprocess.run(["gzip", "-dc", p], capture_output=True)
                n += r.stdout.count(b"\n")
            return n
        self.assertTrue(wait_until(lambda: gunzipped_lines() == n, 30, interval=0.2),
                        files_under(self.out))
        # rollCount 1000: four files were closed as they filled; the fifth is closed by the stop.
        self.assertEqual(len([p for p in files_under(self.out) if p.endswith(".gz")]), 4)
        self.assertEqual(agent.stop(), 0, agent.text()[-3000:])
        files = files_under(self.out)
        self.assertEqual(len(files), 5, files)
        body = []
        for p in files:
            self.assertRegex(os.path.basename(p), r"^FlumeData\.\d+\.gz$")
            r = subprocess.run(["gzip", "-dc", p], capture_output=True, check=True)
            lines = r.stdout.decode().splitlines()
            self.assertEqual(len(lines), 1000, p)
            body.extend(lines)
        self.assertEqual(sorted(int(x) for x in body), list(range(n)))

    def test_in_use_files_closed_out_after_kill_9(self):
        conf = NETCAT_HDFS.format(out=self.out)
        agent = self.start(conf)
        port = agent.port_of("r1")
        lines = [f"{T0} line-{i}" for i in range(30)]
        self.assertEqual(send_lines(port, lines, read_acks=True), ["OK"] * 30)
        tmp = lambda: [p for p in files_under(self.out) if p.endswith(".tmp")]  # noqa: E731

        def read(p):
            with open(p) as f:
                return f.read()
        self.assertTrue(wait_until(lambda: len(tmp()) == 1 and read(tmp()[0]).count("\n") == 30, 30))
        left = tmp()[0]
        agent.kill9()
        self.assertTrue(os.path.exists(left))
        agent2 = self.start(conf, log="agent2.log")
        self.assertFalse(os.path.exists(left))
        self.assertTrue(os.path.exists(left[:-len(".tmp")]))
        self.assertIn("closed out", agent2.text())
        self.assertEqual(agent2.stop(), 0)
        with open(left[:-len(".tmp")]) as f:
            self.assertEqual(f.read().splitlines(), lines)

    def test_config_errors(self):
        base = NETCAT_HDFS.format(out=self.out)
        for extra, needle in [
            ("a1.sinks.k1.hdfs.path = hdfs://namenode:8020/flume\n",
             "a1.sinks.k1.hdfs.path: hdfs:// (a real HDFS cluster) is not supported yet"),
            ("a1.sinks.k1.hdfs.fileType = SequenceFile\n",
             "SequenceFile (Flume's default) is not supported; set hdfs.fileType = DataStream"),
            ("a1.sinks.k1.hdfs.timeZone = Nowhere/City\n", "unknown time zone 'Nowhere/City'"),
        ]:
            conf = os.path.join(self.dir, "bad.properties")
            with open(conf, "w") as f:
                f.write(base + extra)
            r = run("validate", "-n", "a1", "-f", conf)
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(needle, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
