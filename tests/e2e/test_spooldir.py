#!/usr/bin/env python3
"""End-to-end tests of the spooldir source with the real binary and a file_roll sink: many files
delivered exactly once and marked done (rename, delete, tracker_dir), kill -9 in the middle of a
big file and restart (nothing lost, duplicates only within one batch), bad files quarantined while
the others keep flowing, include/ignore patterns, decode policies, and the BLOB deserializer."""

import collections
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.environ["SLUICE_SOURCE_ROOT"], "tests", "support"))
from sluice_test import BIN, Agent, lines_in, wait_until  # noqa: E402


def have_file_channel():
    r = subprocess.run([BIN, "plugins"], capture_output=True, text=True)
    return any(l.split("\t")[:2] == ["channel", "file"] for l in r.stdout.splitlines())


def write(path, data, age=0):
    tmp = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".part")
    with open(tmp, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    if age:
        t = time.time() - age
        os.utime(tmp, (t, t))
    os.rename(tmp, path)  # appear complete, as the spooling contract asks


def out_bytes(directory):
    total = 0
    for f in glob.glob(os.path.join(directory, "*")):
        total += os.path.getsize(f)
    return total


class SpoolDirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sluice-spool-")
        self.addCleanup(self.tmp.cleanup)  # cleanups run last-in first-out: after agents stop
        self.dir = self.tmp.name
        self.spool = os.path.join(self.dir, "spool")
        self.out = os.path.join(self.dir, "out")
        os.makedirs(self.spool)
        self.runs = 0

    def agent(self, props=None, channel=None, sink_props=None):
        self.runs += 1
        conf = os.path.join(self.dir, f"a{self.runs}.properties")
        lines = ["a1.sources = r1", "a1.channels = c1", "a1.sinks = k1",
                 "a1.sources.r1.type = spooldir", "a1.sources.r1.channels = c1",
                 f"a1.sources.r1.spoolDir = {self.spool}", "a1.sources.r1.pollDelay = 50",
                 "a1.sinks.k1.type = file_roll", "a1.sinks.k1.channel = c1",
                 f"a1.sinks.k1.sink.directory = {self.out}", "a1.sinks.k1.sink.rollInterval = 0",
                 "a1.sinks.k1.sink.batchSize = 1000"]
        channel = channel or {"type": "memory", "capacity": "100000", "transactionCapacity": "1000"}
        lines += [f"a1.channels.c1.{k} = {v}" for k, v in channel.items()]
        lines += [f"a1.sources.r1.{k} = {v}" for k, v in (props or {}).items()]
        lines += [f"a1.sinks.k1.{k} = {v}" for k, v in (sink_props or {}).items()]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        a = Agent(conf, self.dir, log_name=f"agent{self.runs}.log")
        self.addCleanup(a.stop)
        a.wait_started()
        return a

    def spool_files(self):
        return sorted(os.listdir(self.spool))

    def test_many_files_exactly_once_renamed_completed(self):
        expected = []
        for n in range(40):
            body = [f"file{n}-line{i}" for i in range(250)]
            expected += body
            write(os.path.join(self.spool, f"f{n:02d}.log"), "\n".join(body) + "\n", age=100 - n)
        a = self.agent({"batchSize": "100"})
        done = lambda: sum(f.endswith(".COMPLETED") for f in self.spool_files()) == 40
        self.assertTrue(wait_until(done, 60), a.text()[-3000:])
        self.assertTrue(wait_until(lambda: len(lines_in(self.out)) >= len(expected), 30))
        got = lines_in(self.out)
        self.assertEqual(got, expected)  # oldest first, each exactly once, in order
        # The source renames with link + unlink (never replacing a file), so for a moment a file
        # has both names: wait for the old ones to go instead of reading the listing once.
        pending = lambda: [f for f in self.spool_files() if not f.endswith(".COMPLETED")]
        self.assertTrue(wait_until(lambda: pending() == [".flumespool"], 30), pending())
        self.assertEqual(a.stop(), 0)

    def test_delete_policy_immediate(self):
        for n in range(5):
            write(os.path.join(self.spool, f"d{n}.log"), f"d{n}\n")
        a = self.agent({"deletePolicy": "immediate"})
        self.assertTrue(wait_until(lambda: self.spool_files() == [".flumespool"], 30),
                        a.text()[-3000:])
        self.assertTrue(wait_until(lambda: len(lines_in(self.out)) == 5, 30))
        self.assertEqual(sorted(lines_in(self.out)), [f"d{n}" for n in range(5)])

    def test_tracker_dir_policy_survives_restart(self):
        for n in range(3):
            write(os.path.join(self.spool, f"t{n}.log"), f"t{n}\n", age=100)
        a = self.agent({"trackingPolicy": "tracker_dir"})
        markers = lambda: sorted(os.listdir(os.path.join(self.spool, ".flumespool")))
        self.assertTrue(wait_until(lambda: [m for m in markers() if m.endswith(".COMPLETED")] ==
                                   ["t0.log.COMPLETED", "t1.log.COMPLETED", "t2.log.COMPLETED"], 30),
                        a.text()[-3000:])
        self.assertEqual(self.spool_files(), [".flumespool", "t0.log", "t1.log", "t2.log"])
        a.stop()
        # Restart: the tracked files are not read again. A newer sentinel file is read after
        # anything older would have been.
        b = self.agent({"trackingPolicy": "tracker_dir"})
        write(os.path.join(self.spool, "sentinel.log"), "sentinel\n")
        self.assertTrue(wait_until(lambda: "sentinel" in lines_in(self.out), 30), b.text()[-3000:])
        self.assertEqual(sorted(lines_in(self.out)), ["sentinel", "t0", "t1", "t2"])

    def test_kill9_mid_file_then_restart_nothing_lost(self):
        durable = have_file_channel()
        if durable:
            channel = {"type": "file", "checkpointDir": os.path.join(self.dir, "ckpt"),
                       "dataDirs": os.path.join(self.dir, "data"), "capacity": "1000000",
                       "transactionCapacity": "1000"}
        else:  # a memory channel loses what it holds on kill -9; bound that by its capacity
            channel = {"type": "memory", "capacity": "1000", "transactionCapacity": "1000"}
        total = 200000  # 10 MB
        batch = 100
        data = "".join(f"{i:08d} " + "x" * 40 + "\n" for i in range(total))
        write(os.path.join(self.spool, "big.log"), data)
        props = {"batchSize": str(batch)}
        a = self.agent(props, channel)
        meta = os.path.join(self.spool, ".flumespool", ".sluicespool-main.meta")
        # Freeze the agent as soon as its progress record shows a committed batch of big.log
        # (the rest of the 10 MB takes far longer than this 2 ms poll), check that it is
        # mid-file, then kill -9 it (SIGKILL works on a stopped process).
        self.assertTrue(wait_until(lambda: "big.log" in read_text(meta), 60, interval=0.002),
                        a.text()[-3000:])
        a.proc.send_signal(signal.SIGSTOP)
        self.assertTrue(os.path.exists(os.path.join(self.spool, "big.log")),
                        "the file finished before the kill; make it bigger")
        a.kill9()
        b = self.agent(props, channel)
        b.wait_for("resuming " + os.path.join(self.spool, "big.log"))
        self.assertTrue(wait_until(lambda: os.path.exists(os.path.join(self.spool, "big.log.COMPLETED")), 60),
                        b.text()[-3000:])
        self.assertTrue(wait_until(lambda: out_bytes(self.out) >= len(data), 60))
        b.stop()
        got = lines_in(self.out)
        counts = collections.Counter(got)
        missing = [i for i in range(total) if counts[f"{i:08d} " + "x" * 40] == 0]
        dups = sum(c - 1 for c in counts.values() if c > 1)
        print(f"\n  kill -9 mid-file ({'file' if durable else 'memory'} channel): {len(missing)} "
              f"missing, {dups} duplicated of {total}", file=sys.stderr)
        if durable:
            self.assertEqual(missing, [], "lines lost across kill -9")
        else:
            self.assertLessEqual(len(missing), 1000 + 1000, "more lost than the channel held")
        # At most the source's in-flight batch and the sink's in-flight batch come twice.
        self.assertLessEqual(dups, batch + 1000)
        self.assertEqual(len(got), total - len(missing) + dups)

    def test_modified_file_and_duplicate_name_quarantined_others_flow(self):
        write(os.path.join(self.spool, "dup.log.COMPLETED"), "old\n")
        write(os.path.join(self.spool, "dup.log"), "new\n", age=300)
        big = os.path.join(self.spool, "grow.log")
        write(big, "".join(f"g{i} {'y' * 40}\n" for i in range(300000)), age=200)
        write(os.path.join(self.spool, "after.log"), "after\n", age=100)
        meta = os.path.join(self.spool, ".flumespool", ".sluicespool-main.meta")
        a = self.agent({"batchSize": "20"})
        # Pause the agent while it is inside grow.log, append to it, and let it go on.
        self.assertTrue(wait_until(lambda: "grow.log" in read_text(meta), 60, interval=0.002),
                        a.text()[-3000:])
        a.proc.send_signal(signal.SIGSTOP)
        try:
            self.assertTrue(os.path.exists(big), "grow.log finished before it could be modified")
            with open(big, "a") as f:
                f.write("appended after pickup\n")
        finally:
            a.proc.send_signal(signal.SIGCONT)
        quarantine = os.path.join(self.spool, ".flumespool", "quarantine")
        self.assertTrue(wait_until(lambda: os.path.exists(os.path.join(quarantine, "grow.log")), 60),
                        a.text()[-3000:])
        self.assertTrue(wait_until(lambda: "after" in lines_in(self.out), 30), a.text()[-3000:])
        self.assertTrue(os.path.exists(os.path.join(quarantine, "dup.log")))
        self.assertTrue(os.path.exists(os.path.join(self.spool, "after.log.COMPLETED")))
        text = a.text()
        self.assertIn(os.path.join(self.spool, "grow.log") + ": modified after pickup", text)
        self.assertIn(os.path.join(self.spool, "dup.log") + ": file name re-used", text)
        got = lines_in(self.out)
        self.assertNotIn("new", got)
        self.assertNotIn("appended after pickup", got)
        self.assertTrue(a.alive())
        # Later files keep flowing.
        write(os.path.join(self.spool, "later.log"), "later\n")
        self.assertTrue(wait_until(lambda: "later" in lines_in(self.out), 30))

    def test_include_and_ignore_patterns(self):
        write(os.path.join(self.spool, "a.log"), "a\n", age=10)
        write(os.path.join(self.spool, "b.txt"), "b\n")
        write(os.path.join(self.spool, "c-skip.log"), "c\n")
        write(os.path.join(self.spool, "z.log"), "z\n", age=5)
        a = self.agent({"includePattern": r"^.*\.log$", "ignorePattern": "^.*-skip.*$"})
        self.assertTrue(wait_until(lambda: lines_in(self.out) == ["a", "z"], 30), a.text()[-3000:])
        self.assertIn("b.txt", self.spool_files())
        self.assertIn("c-skip.log", self.spool_files())

    def test_decode_error_policies(self):
        bad = b"good\nbad\xff\xfeline\nend\n"
        results = {}
        for policy in ("FAIL", "REPLACE", "IGNORE"):
            write(os.path.join(self.spool, f"{policy}.log"), bad)
            a = self.agent({"decodeErrorPolicy": policy, "includePattern": f"^{policy}\\.log$"})
            if policy == "FAIL":
                q = os.path.join(self.spool, ".flumespool", "quarantine", "FAIL.log")
                self.assertTrue(wait_until(lambda: os.path.exists(q), 30), a.text()[-3000:])
                self.assertIn("undecodable UTF-8 at byte 8", a.text())
            else:
                self.assertTrue(wait_until(lambda: os.path.exists(
                    os.path.join(self.spool, f"{policy}.log.COMPLETED")), 30), a.text()[-3000:])
            a.stop()
            results[policy] = open_all(self.out)
        self.assertEqual(results["FAIL"], b"")
        self.assertEqual(results["REPLACE"], b"good\nbad\xef\xbf\xbd\xef\xbf\xbdline\nend\n")
        self.assertEqual(results["IGNORE"][len(results["REPLACE"]):], b"good\nbadline\nend\n")

    def test_blob_deserializer(self):
        one = bytes(range(256)) * 4 + b"\nmore\n"
        two = b"second file, no newline"
        write(os.path.join(self.spool, "one.bin"), one, age=10)
        write(os.path.join(self.spool, "two.bin"), two, age=5)
        a = self.agent({"deserializer": "BLOB", "batchSize": "1"},
                       sink_props={"sink.serializer.appendNewline": "false"})
        self.assertTrue(wait_until(lambda: open_all(self.out) == one + two, 30), a.text()[-3000:])


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def open_all(directory):
    data = b""
    for f in sorted(glob.glob(os.path.join(directory, "*"))):
        with open(f, "rb") as fh:
            data += fh.read()
    return data


if __name__ == "__main__":
    unittest.main(verbosity=2)
