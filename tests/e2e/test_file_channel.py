"""End-to-end tests of the file channel with the real binary: kill -9 at random moments during
sustained put/take, a full disk (minimumRequiredSpace), and the offline checker.

Pipeline: netcat source with an OK per line (= the put committed) -> file channel ->
test.file_sink (appends each body to a file, commits the take, then marks the batch's bytes as
committed in a side file)."""

import collections
import os
import random
import re
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "tests", "support"))
from sluice_test import AgentTestCase, matches_in, run, send_acked, wait_until  # noqa: E402

LINE_RE = re.compile(rb"L(\d{4})-(\d{6})-end")
# test.file_sink's commitLog: bytes [START, END) of out.txt are a batch whose take committed.
# A marker cut by a kill does not match; the next one still does.
COMMIT_RE = re.compile(rb"C (\d+) (\d+)\n")
SINK_BATCH = 100



def write_config(workdir, extra=""):
    """The agent's config; its netcat source binds port 0 (agent.port_of("r1") says which)."""
    path = os.path.join(workdir, "agent.properties")
    with open(path, "w") as f:
        f.write(f"""
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.ack-every-event = true
a1.sources.r1.batchSize = 50
a1.sources.r1.channels = c1
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = {workdir}/checkpoint
a1.channels.c1.dataDirs = {workdir}/data1,{workdir}/data2
a1.channels.c1.useDualCheckpoints = true
a1.channels.c1.backupCheckpointDir = {workdir}/backup
a1.channels.c1.checkpointInterval = 500
a1.channels.c1.maxFileSize = 65536
a1.channels.c1.capacity = 200000
a1.channels.c1.transactionCapacity = 1000
a1.channels.c1.minimumRequiredSpace = 0
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = {workdir}/out.txt
a1.sinks.k1.batchSize = {SINK_BATCH}
a1.sinks.k1.failFile = {workdir}/fail
a1.sinks.k1.commitLog = {workdir}/commits.txt
{extra}
""")
    return path


def delivered(workdir):
    """Every complete line id in the sink's output, in order (a line cut by a kill is skipped)."""
    return matches_in(os.path.join(workdir, "out.txt"), LINE_RE)


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def split_batches(out, commits, run_ends):
    """Splits the sink's output into committed batches and the batch each run left in flight.

    out: out.txt's bytes; commits: the (start, end) byte ranges the sink marked committed;
    run_ends: out.txt's size when each run ended (a kill, or the clean stop last). One sink
    thread writes a batch, commits its take, marks it, and only then writes the next one, so
    within a run the committed batches must follow each other from the run's first byte, and
    whatever follows the last of them is the one batch in flight when the run ended (empty, or
    a batch whose take did not commit, or one that committed but was killed before its mark).
    Returns (committed ranges, in-flight ranges, problems)."""
    problems = []
    commits = sorted(commits)
    committed, in_flight = [], []
    i = 0
    run_start = 0
    for run, run_end in enumerate(run_ends):
        pos = run_start
        while i < len(commits) and commits[i][0] < run_end:
            start, end = commits[i]
            if start != pos or end > run_end:
                problems.append(f"run {run}: committed batch at bytes {start}-{end}, expected one "
                                f"starting at {pos} and ending by {run_end}")
            committed.append((start, end))
            pos = max(pos, end)
            i += 1
        if pos < run_end:
            in_flight.append((pos, run_end))
        run_start = run_end
    if i != len(commits):
        problems.append(f"{len(commits) - i} commit marks beyond the output")
    return committed, in_flight, problems


def lines_in(out, ranges):
    """The complete line ids whose bytes lie in one of the ranges."""
    found = []
    for start, end in ranges:
        found += [m.group(0).decode() for m in LINE_RE.finditer(out, start, end)]
    return found


class Sender(threading.Thread):
    """Sends numbered lines in chunks and records those the agent acknowledged with OK."""

    def __init__(self, port, round_no, acked, chunk=50):
        super().__init__(daemon=True)
        self.port, self.round_no, self.acked, self.chunk = port, round_no, acked, chunk
        self.stop = threading.Event()
        self.sent = 0

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        except OSError:
            return
        buf = b""
        n = 0
        try:
            while not self.stop.is_set():
                lines = [f"L{self.round_no:04d}-{n + i:06d}-end" for i in range(self.chunk)]
                s.sendall(("\n".join(lines) + "\n").encode())
                n += self.chunk
                self.sent = n
                got = 0
                while got < len(lines):
                    while b"\n" not in buf:
                        chunk = s.recv(65536)
                        if not chunk:
                            return
                        buf += chunk
                    reply, buf = buf.split(b"\n", 1)
                    if reply == b"OK":
                        self.acked.append(lines[got])
                    got += 1
        except OSError:
            return
        finally:
            s.close()


class FileChannelCrashTest(AgentTestCase):
    dir_prefix = "sluice-e2e-filechan-"

    def test_kill9_loses_no_acknowledged_event(self):
        conf = write_config(self.dir)
        rng = random.Random(int(os.environ.get("SLUICE_CRASH_SEED", "0")) or None)
        iterations = int(os.environ.get("SLUICE_CRASH_ITERATIONS", "20"))
        acked = []
        run_ends = []  # out.txt's size when each run ended
        out_path = os.path.join(self.dir, "out.txt")
        t_start = time.monotonic()
        for it in range(iterations):
            agent = self.start_agent(conf, f"agent-{it}.log")
            sender = Sender(agent.port_of("r1"), it, acked)
            sender.start()
            # Let put and take run for a random while, then crash the agent.
            time.sleep(rng.uniform(0.2, 1.0))
            agent.kill9()
            run_ends.append(os.path.getsize(out_path) if os.path.exists(out_path) else 0)
            sender.stop.set()
            sender.join(timeout=10)
            self.assertIn("file channel open:", agent.text())
        # A last, clean run: everything acknowledged must come out.
        agent = self.start_agent(conf, "agent-final.log")
        want = set(acked)
        self.assertTrue(wait_until(lambda: want <= set(delivered(self.dir)), timeout=60),
                        f"{len(want - set(delivered(self.dir)))} acknowledged lines never "
                        f"delivered; log:\n{agent.text()[-3000:]}")
        self.assertEqual(agent.stop(), 0, agent.text()[-3000:])
        got = delivered(self.dir)
        counts = {}
        for line in got:
            counts[line] = counts.get(line, 0) + 1
        dups = sum(c - 1 for c in counts.values())
        lost = want - set(counts)
        self.assertFalse(lost, f"lost {len(lost)} acknowledged lines")

        # Exact duplicate accounting: only the take that was in flight when a run was killed
        # may be delivered again. No line may appear in two committed batches, every extra
        # copy must lie in a run's in-flight batch, and the clean last run leaves none.
        out = read_bytes(out_path)
        commits = [(int(a), int(b))
                   for a, b in COMMIT_RE.findall(read_bytes(os.path.join(self.dir, "commits.txt")))]
        committed, in_flight, problems = split_batches(out, commits, run_ends + [len(out)])
        self.assertFalse(problems, "\n".join(problems[:10]))
        self.assertFalse(in_flight and in_flight[-1][1] == len(out) and
                         in_flight[-1][0] >= (run_ends[-1] if run_ends else 0),
                         "the clean last run left a batch unmarked")
        for start, end in in_flight:
            n = len(LINE_RE.findall(out, start, end))
            self.assertLessEqual(n, SINK_BATCH, f"{n} lines in flight at bytes {start}-{end}")
        in_committed = {}
        for line in lines_in(out, committed):
            in_committed[line] = in_committed.get(line, 0) + 1
        twice = [line for line, n in in_committed.items() if n > 1]
        self.assertFalse(twice, f"{len(twice)} lines delivered again after their take committed, "
                                f"e.g. {twice[:5]}")
        in_flight_lines = lines_in(out, in_flight)
        # Each line appears at most once outside in-flight batches, so every duplicate is one.
        explained = sum(min(counts[line] - 1, n)
                        for line, n in collections.Counter(in_flight_lines).items())
        self.assertEqual(dups, explained, f"{dups} duplicates, {explained} from in-flight takes")
        print(f"\n  {iterations} kill -9 crashes in {time.monotonic() - t_start:.1f} s: "
              f"{len(want)} acknowledged lines all delivered, {len(counts)} distinct delivered, "
              f"{dups} duplicates, all from the {len(in_flight)} batches in flight at a kill "
              f"({len(in_flight_lines)} lines)", file=sys.stderr)
        self.assertGreater(len(want), iterations * 10, "too little traffic to mean anything")
        # The channel was stopped cleanly: the checker finds it clean and empty.
        # Through the CLI, as a user runs it: `sluice channel-check` execs the checker.
        r = run("channel-check", "--checkpoint-dir", f"{self.dir}/checkpoint", "--data-dirs",
                f"{self.dir}/data1,{self.dir}/data2")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("live events: 0", r.stdout)

    def test_disk_full_puts_fail_cleanly_and_committed_events_survive(self):
        open(os.path.join(self.dir, "fail"), "w").close()  # the sink fails: events stay queued
        conf = write_config(self.dir)
        agent = self.start_agent(conf, "agent-1.log")
        port = agent.port_of("r1")
        lines = [f"L0001-{i:06d}-end" for i in range(200)]
        self.assertEqual(send_acked(port, lines, chunk=len(lines)), ["OK"] * len(lines))
        self.assertEqual(agent.stop(timeout=60), 0)

        # Restart with the disk "full": puts fail with a clear error, the agent keeps running,
        # and the events committed before are still delivered.
        conf = write_config(self.dir, "a1.channels.c1.minimumRequiredSpace = "
                                      "1000000000000000000")
        os.unlink(os.path.join(self.dir, "fail"))
        agent = self.start_agent(conf, "agent-2.log")
        port = agent.port_of("r1")
        more = [f"L0002-{i:06d}-end" for i in range(20)]
        replies = send_acked(port, more, chunk=len(more))
        self.assertTrue(replies and all(r.startswith("FAILED") for r in replies), replies)
        self.assertIn("Usable space exhausted", replies[0])
        self.assertTrue(wait_until(lambda: set(lines) <= set(delivered(self.dir)), timeout=30))
        self.assertTrue(agent.alive())
        self.assertFalse(any(l.startswith("L0002") for l in delivered(self.dir)))
        self.assertEqual(agent.stop(), 0)

    def test_unknown_key_warns_and_bad_values_are_config_errors(self):
        # An unknown key in .properties is a warning with the hint, as Flume ignores it;
        # --strict makes it an error.
        conf = write_config(self.dir, "a1.channels.c1.checkpointIntervall = 5")
        r = run("validate", "-f", conf, "--plugins-path", self.plugdir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: a1.channels.c1.checkpointIntervall", r.stdout + r.stderr)
        self.assertIn("did you mean 'checkpointInterval'", r.stdout + r.stderr)
        r = run("validate", "--strict", "-f", conf, "--plugins-path", self.plugdir)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("checkpointIntervall", r.stdout + r.stderr)
        conf = write_config(self.dir, "a1.channels.c1.transactionCapacity = 300000")
        r = run("validate", "-f", conf, "--plugins-path", self.plugdir)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("must be <= capacity", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
