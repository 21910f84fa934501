#!/usr/bin/env python3
"""End-to-end tests of the exec source with the real binary: a command's stdout lines reach a
file_roll sink, restart after exit, the whole process group is killed on stop (no orphans),
and batchTimeout flushes a partial batch."""

import os
import random
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ["SLUICE_SOURCE_ROOT"], "tests", "support"))
from sluice_test import Agent, lines_in, wait_until  # noqa: E402


def processes_with(needle):
    """pids whose command line contains needle (a unique marker), read from /proc."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmd and state != "Z":
            found.append(int(pid))
    return found


class ExecTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sluice-exec-")
        self.addCleanup(self.tmp.cleanup)  # cleanups run last-in first-out: after agents stop
        self.dir = self.tmp.name
        self.out = os.path.join(self.dir, "out")

    def agent(self, source_props):
        conf = os.path.join(self.dir, "a.properties")
        lines = ["a1.sources = r1", "a1.channels = c1", "a1.sinks = k1",
                 "a1.sources.r1.type = exec", "a1.sources.r1.channels = c1",
                 "a1.channels.c1.type = memory", "a1.channels.c1.capacity = 100000",
                 "a1.channels.c1.transactionCapacity = 1000",
                 "a1.sinks.k1.type = file_roll", "a1.sinks.k1.channel = c1",
                 f"a1.sinks.k1.sink.directory = {self.out}", "a1.sinks.k1.sink.rollInterval = 0",
                 "a1.sinks.k1.sink.batchSize = 1000"]
        lines += [f"a1.sources.r1.{k} = {v}" for k, v in source_props.items()]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        a = Agent(conf, self.dir)
        self.addCleanup(a.stop)
        a.wait_started()
        return a

    def test_lines_from_a_command_arrive_exactly(self):
        a = self.agent({"command": "seq 1 20000", "batchSize": "500"})
        expected = [str(i) for i in range(1, 20001)]
        self.assertTrue(wait_until(lambda: len(lines_in(self.out)) >= 20000, 60),
                        a.text()[-3000:])
        a.wait_for("exited with status 0")
        self.assertEqual(lines_in(self.out), expected)
        self.assertEqual(a.stop(), 0)

    def test_restart_after_exit(self):
        a = self.agent({"command": "echo tick", "shell": "/bin/sh -c", "restart": "true",
                        "restartThrottle": "100", "batchTimeout": "50"})
        self.assertTrue(wait_until(lambda: len(lines_in(self.out)) >= 3, 30), a.text()[-3000:])
        self.assertTrue(all(l == "tick" for l in lines_in(self.out)))
        self.assertIn("restarting 'echo tick'", a.text())

    def test_child_group_killed_on_stop_no_orphans(self):
        marker = str(random.randint(100000, 999999))
        # A pipeline: the shell, a sleep and a cat, all in the child's process group.
        a = self.agent({"command": f"echo started; sleep {marker} | cat", "shell": "/bin/sh -c",
                        "batchTimeout": "50"})
        self.assertTrue(wait_until(lambda: lines_in(self.out) == ["started"], 30), a.text()[-3000:])
        self.assertTrue(wait_until(lambda: processes_with(f"sleep {marker}"), 10))
        self.assertEqual(a.stop(), 0)
        self.assertTrue(wait_until(lambda: not processes_with(marker), 10),
                        f"left behind: {processes_with(marker)}")
        self.assertIn("was killed by signal", a.text())

    def test_batch_timeout_flushes_a_partial_batch(self):
        marker = str(random.randint(100000, 999999))
        a = self.agent({"command": f"echo one; echo two; exec sleep {marker}",
                        "shell": "/bin/sh -c", "batchSize": "1000", "batchTimeout": "200"})
        # The command is still running (no exit flush): only the timeout can deliver these.
        self.assertTrue(wait_until(lambda: lines_in(self.out) == ["one", "two"], 30),
                        a.text()[-3000:])
        self.assertTrue(processes_with(f"sleep {marker}"))
        a.stop()
        self.assertTrue(wait_until(lambda: not processes_with(marker), 10))


if __name__ == "__main__":
    unittest.main(verbosity=2)
