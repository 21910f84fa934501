"""End-to-end tests of the SPILLABLEMEMORY channel with the real binary: order across memory and
overflow, and what a kill -9 keeps (the overflow) and loses (memory).

Pipeline: netcat source with an OK per line -> spillable channel -> test.file_sink, whose
failFile holds events in the channel while lines are sent."""

import os
import re
import shutil
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "tests", "support"))
from sluice_test import Agent, copy_test_plugin, free_port, wait_until  # noqa: E402

LINE_RE = re.compile(rb"S(\d{6})-end")
MEMORY = 300



class SpillableChannelTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-e2e-spill-")
        self.plugdir = copy_test_plugin(self.dir)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "agent.properties")
        with open(self.conf, "w") as f:
            f.write(f"""
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = {self.port}
a1.sources.r1.ack-every-event = true
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1
a1.channels.c1.type = org.apache.flume.channel.SpillableMemoryChannel
a1.channels.c1.memoryCapacity = {MEMORY}
a1.channels.c1.overflowCapacity = 100000
a1.channels.c1.overflowTimeout = 0
a1.channels.c1.transactionCapacity = 1000
a1.channels.c1.checkpointDir = {self.dir}/checkpoint
a1.channels.c1.dataDirs = {self.dir}/data
a1.channels.c1.minimumRequiredSpace = 0
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = {self.dir}/out.txt
a1.sinks.k1.batchSize = 100
a1.sinks.k1.failFile = {self.dir}/fail
""")
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            if a.alive():
                a.kill9()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, log_name):
        a = Agent(self.conf, self.dir, extra_args=["--plugins-path", self.plugdir],
                  log_name=log_name)
        self.agents.append(a)
        a.wait_started(timeout=60)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        self.assertTrue(wait_until(up, 30))
        return a

    def send(self, lines):
        """Sends lines in chunks of 100 on one connection; returns the replies."""
        replies = []
        with socket.create_connection(("127.0.0.1", self.port), timeout=20) as s:
            buf = b""
            for i in range(0, len(lines), 100):
                chunk = lines[i:i + 100]
                s.sendall(("\n".join(chunk) + "\n").encode())
                while buf.count(b"\n") < len(chunk):
                    buf += s.recv(65536)
                got = buf.split(b"\n")
                replies += [r.decode() for r in got[:len(chunk)]]
                buf = b"\n".join(got[len(chunk):])
        return replies

    def delivered(self):
        try:
            with open(os.path.join(self.dir, "out.txt"), "rb") as f:
                return [m.group(0).decode() for m in LINE_RE.finditer(f.read())]
        except FileNotFoundError:
            return []

    def test_order_is_kept_across_memory_and_overflow(self):
        open(os.path.join(self.dir, "fail"), "w").close()
        agent = self.start("agent.log")
        lines = [f"S{i:06d}-end" for i in range(2000)]
        self.assertEqual(self.send(lines), ["OK"] * len(lines))
        self.assertTrue(os.listdir(os.path.join(self.dir, "data")))  # it spilled
        os.unlink(os.path.join(self.dir, "fail"))
        self.assertTrue(wait_until(lambda: len(self.delivered()) >= len(lines), 60),
                        agent.text()[-3000:])
        self.assertEqual(self.delivered(), lines)
        self.assertEqual(agent.stop(), 0)

    def test_kill9_keeps_the_overflow_and_loses_memory(self):
        open(os.path.join(self.dir, "fail"), "w").close()
        agent = self.start("agent-1.log")
        lines = [f"S{i:06d}-end" for i in range(1500)]
        self.assertEqual(self.send(lines), ["OK"] * len(lines))
        agent.kill9()
        os.unlink(os.path.join(self.dir, "fail"))
        agent = self.start("agent-2.log")
        spilled = lines[MEMORY:]
        self.assertTrue(wait_until(lambda: len(self.delivered()) >= len(spilled), 60),
                        agent.text()[-3000:])
        self.assertEqual(self.delivered(), spilled)
        self.assertEqual(agent.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
