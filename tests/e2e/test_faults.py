"""Fault tests with the real binary: a slow disk, made by the LD_PRELOAD shim tests/fault/slowio.cpp
(every write and sync on a file under SLUICE_SLOWIO_PREFIX sleeps SLUICE_SLOWIO_MS first).

Pipeline: netcat source with an OK per line (= the put committed) -> file channel -> file_roll.
Several clients send numbered lines at once. At the far end, as the README's Guarantees say:
every line answered OK arrives exactly once; no line answered FAILED arrives; nothing else
appears; and the agent still takes a new client and stops cleanly.

Why exactly once and not merely at-least-once here: the only duplicates at-least-once allows come
from a take that is rolled back after the sink wrote (a failed sink write, or a crash before the
take committed). A slow disk makes writes slow, not failed, and nothing crashes, so no take is
rolled back. A FAILED reply here means the put found the channel full and wrote nothing, so its
lines never entered the channel. (A different fault, a failing fdatasync, answers FAILED for
records already written and queued: those may still arrive. A slow disk never fails a sync.)"""

import collections
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "tests", "support"))
from sluice_test import AgentTestCase, lines_in, send_acked, wait_until  # noqa: E402

SHIM = os.environ.get("SLUICE_SLOWIO_LIB", "")


def slow_env(prefix, ms):
    env = os.environ.copy()
    env["LD_PRELOAD"] = SHIM
    env["SLUICE_SLOWIO_PREFIX"] = prefix
    env["SLUICE_SLOWIO_MS"] = str(ms)
    # Under a sanitizer build with a shared runtime, the shim would come before it in the list.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS", ""),
                                                 "verify_asan_link_order=0"]))
    return env


def write_config(path, chan_dir, out_dir, capacity, sink_batch, keep_alive):
    """The agent's config; its netcat source binds port 0 (agent.port_of("r1") says which)."""
    with open(path, "w") as f:
        f.write(f"""
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.ack-every-event = true
a1.sources.r1.batchSize = 25
a1.sources.r1.channels = c1
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = {chan_dir}/checkpoint
a1.channels.c1.dataDirs = {chan_dir}/data
a1.channels.c1.checkpointInterval = 1000
a1.channels.c1.capacity = {capacity}
a1.channels.c1.transactionCapacity = 100
a1.channels.c1.keep-alive = {keep_alive}
a1.channels.c1.minimumRequiredSpace = 0
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = {out_dir}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.batchSize = {sink_batch}
""")
    return path


class Outcome:
    """What the clients were told, per line."""

    def __init__(self):
        self.ok, self.failed, self.unanswered = set(), set(), set()
        self.lock = threading.Lock()

    def record(self, lines, replies):
        with self.lock:
            for i, line in enumerate(lines):
                if i >= len(replies):
                    self.unanswered.add(line)
                elif replies[i] == "OK":
                    self.ok.add(line)
                else:
                    self.failed.add(line)


def run_clients(port, clients, per_client, outcome, wave=1):
    """clients threads, each sending per_client numbered lines on its own connection."""
    def client(n):
        lines = [f"W{wave}-C{n:02d}-{i:06d}-end" for i in range(per_client)]
        try:
            replies = send_acked(port, lines, chunk=25, timeout=60)
        except OSError as e:
            replies = []
            print(f"client {n}: {e}", file=sys.stderr)
        outcome.record(lines, replies)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return not any(t.is_alive() for t in threads)


@unittest.skipUnless(SHIM and os.path.exists(SHIM), "SLUICE_SLOWIO_LIB (the shim) not built")
class SlowDiskTest(AgentTestCase):
    dir_prefix = "sluice-e2e-faults-"

    def test_shim_slows_only_files_under_the_prefix(self):
        # The harness itself: writes under the prefix take at least the delay; others do not.
        import subprocess
        slow = os.path.join(self.dir, "slow")
        os.makedirs(slow)
        probe = ("import os, sys, time\n"
                 "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)\n"
                 "t = time.monotonic()\n"
                 "for _ in range(10): os.write(fd, b'x'); os.fsync(fd)\n"
                 "print(time.monotonic() - t)\n")
        env = slow_env(slow, 25)

        def timed(path):
            r = subprocess.run([sys.executable, "-c", probe, path], env=env, capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return float(r.stdout)

        slow_s = timed(os.path.join(slow, "f"))
        fast_s = timed(os.path.join(self.dir, "f"))
        self.assertGreaterEqual(slow_s, 20 * 0.025, "writes and fsyncs under the prefix not slowed")
        self.assertLess(fast_s, slow_s)

    def check_far_end(self, agent, port, out_dir, outcome):
        """The assertions a user would make, then a new client and a clean stop."""
        def delivered():
            return lines_in(out_dir)

        self.assertTrue(
            wait_until(lambda: outcome.ok <= set(delivered()), timeout=60, interval=0.2),
            f"{len(outcome.ok - set(delivered()))} acknowledged lines never delivered; log:\n"
            f"{agent.text()[-3000:]}")
        got = delivered()
        counts = collections.Counter(got)
        sent = outcome.ok | outcome.failed | outcome.unanswered
        strangers = [l for l in counts if l not in sent]
        self.assertFalse(strangers, f"lines nobody sent (or mangled): {strangers[:5]}")
        dups = sum(c - 1 for c in counts.values())
        failed_delivered = len(outcome.failed & set(counts))
        self.assertFalse(outcome.unanswered, f"{len(outcome.unanswered)} lines got no reply")
        self.assertEqual(dups, 0, "lines delivered more than once: "
                         f"{[l for l, c in counts.items() if c > 1][:5]}; log:\n{agent.text()[-3000:]}")
        self.assertEqual(failed_delivered, 0, "lines answered FAILED were delivered: "
                         f"{sorted(outcome.failed & set(counts))[:5]}")
        self.assertEqual(set(counts), outcome.ok, "the far end holds exactly the lines answered OK")

        # Still healthy: a new client is served and its line arrives.
        self.assertTrue(agent.alive(), agent.text()[-3000:])
        self.assertEqual(send_acked(port, ["after-the-storm"], timeout=60), ["OK"])
        self.assertTrue(wait_until(lambda: "after-the-storm" in delivered(), timeout=60,
                                   interval=0.2))
        self.assertEqual(agent.stop(timeout=60), 0, agent.text()[-3000:])
        print(f"\n  {len(outcome.ok)} OK (all delivered once), {len(outcome.failed)} FAILED "
              "(none delivered)", file=sys.stderr)

    def test_slow_channel_disk_loses_nothing_acknowledged(self):
        slow = os.path.join(self.dir, "slow")
        out_dir = os.path.join(self.dir, "out")
        os.makedirs(out_dir)
        conf = write_config(os.path.join(self.dir, "agent.properties"),
                            chan_dir=os.path.join(slow, "chan"), out_dir=out_dir,
                            capacity=100000, sink_batch=100, keep_alive=3)
        agent = self.start_agent(conf, env=slow_env(slow, 5))
        port = agent.port_of("r1")
        with open(f"/proc/{agent.proc.pid}/maps") as f:
            self.assertIn("slowio", f.read(), "the shim is not loaded")
        outcome = Outcome()
        t0 = time.monotonic()
        self.assertTrue(run_clients(port, clients=4, per_client=500, outcome=outcome),
                        "a client hung")
        took = time.monotonic() - t0
        # Each client waits for a chunk's replies before sending the next, so each of the 80
        # chunks is at least one put commit, which writes and syncs the log: >= 80 * 2 * 5 ms.
        self.assertGreater(took, 0.5, "the disk was not slow")
        self.assertGreater(len(outcome.ok), 0, agent.text()[-3000:])
        self.check_far_end(agent, port, out_dir, outcome)

    def test_slow_sink_disk_fills_the_channel_without_losing_acknowledged_lines(self):
        # The sink writes a batch of 5 per slowed write (~40 ms): at most ~125 lines/s, far below
        # what the clients offer, so the 100-event channel fills. keep-alive = 0 makes a put that
        # finds it full fail at once (with a wait, the clients would only be slowed down).
        slow = os.path.join(self.dir, "slow")
        out_dir = os.path.join(slow, "out")
        os.makedirs(out_dir)
        conf = write_config(os.path.join(self.dir, "agent.properties"),
                            chan_dir=os.path.join(self.dir, "chan"), out_dir=out_dir,
                            capacity=100, sink_batch=5, keep_alive=0)
        agent = self.start_agent(conf, env=slow_env(slow, 40))
        port = agent.port_of("r1")
        outcome = Outcome()
        self.assertTrue(run_clients(port, clients=4, per_client=1000, outcome=outcome),
                        "a client hung")
        self.assertGreater(len(outcome.failed), 0,
                           "the channel never filled: no FAILED reply; log:\n"
                           + agent.text()[-3000:])
        self.assertGreater(len(outcome.ok), 0, agent.text()[-3000:])
        # Once the slow sink has made room, puts succeed again.
        self.assertTrue(wait_until(lambda: len(lines_in(out_dir)) >= 50, timeout=60,
                                   interval=0.1), agent.text()[-3000:])
        first_ok = len(outcome.ok)
        self.assertTrue(run_clients(port, clients=4, per_client=250, outcome=outcome, wave=2),
                        "a client hung")
        self.assertGreater(len(outcome.ok), first_ok, "no put succeeded after the channel drained")
        self.check_far_end(agent, port, out_dir, outcome)


if __name__ == "__main__":
    unittest.main(verbosity=2)
