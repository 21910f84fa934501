"""End-to-end tests of the SPILLABLEMEMORY channel with the real binary: order across memory and
overflow, what a kill -9 keeps (the overflow) and loses (memory), and what a graceful stop or a
reload keeps (everything, in order).

Pipeline: netcat source with an OK per line -> spillable channel -> test.file_sink, whose
failFile holds events in the channel while lines are sent."""

import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "tests", "support"))
from sluice_test import AgentTestCase, matches_in, send_acked, wait_until  # noqa: E402

LINE_RE = re.compile(rb"S(\d{6})-end")
MEMORY = 300


class SpillableChannelTest(AgentTestCase):
    dir_prefix = "sluice-e2e-spill-"

    def setUp(self):
        super().setUp()
        self.port = None  # the netcat source's, read from the log of each agent started
        self.conf = os.path.join(self.dir, "agent.properties")
        self.write_conf(MEMORY)

    def write_conf(self, memory):
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"""
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.ack-every-event = true
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1
a1.channels.c1.type = org.apache.flume.channel.SpillableMemoryChannel
a1.channels.c1.memoryCapacity = {memory}
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
        os.rename(tmp, self.conf)  # atomically, as editors do

    def start(self, log_name):
        # A short drain: the sink fails on purpose in most tests, so draining cannot finish.
        agent = self.start_agent(self.conf, log_name, extra_args=["--drain-timeout", "300"])
        self.port = agent.port_of("r1")
        return agent

    def delivered(self):
        return matches_in(os.path.join(self.dir, "out.txt"), LINE_RE)

    def block_sink(self):
        open(os.path.join(self.dir, "fail"), "w").close()

    def unblock_sink(self):
        os.unlink(os.path.join(self.dir, "fail"))

    def wait_delivered(self, want, agent):
        self.assertTrue(wait_until(lambda: len(self.delivered()) >= len(want), 60),
                        agent.text()[-3000:])
        self.assertEqual(self.delivered(), want)

    def test_order_is_kept_across_memory_and_overflow(self):
        self.block_sink()
        agent = self.start("agent.log")
        lines = [f"S{i:06d}-end" for i in range(2000)]
        self.assertEqual(send_acked(self.port, lines), ["OK"] * len(lines))
        self.assertTrue(os.listdir(os.path.join(self.dir, "data")))  # it spilled
        self.unblock_sink()
        self.wait_delivered(lines, agent)
        self.assertEqual(agent.stop(), 0)

    def test_kill9_keeps_the_overflow_and_loses_memory(self):
        self.block_sink()
        agent = self.start("agent-1.log")
        lines = [f"S{i:06d}-end" for i in range(1500)]
        self.assertEqual(send_acked(self.port, lines), ["OK"] * len(lines))
        agent.kill9()
        self.unblock_sink()
        agent = self.start("agent-2.log")
        self.wait_delivered(lines[MEMORY:], agent)
        self.assertEqual(agent.stop(), 0)

    def test_graceful_stop_keeps_memory_and_order(self):
        # The first MEMORY events are in memory, the rest in the overflow, when the agent stops
        # with the sink down. The next agent on the same directories delivers all, in order.
        self.block_sink()
        agent = self.start("agent-1.log")
        lines = [f"S{i:06d}-end" for i in range(1000)]
        self.assertEqual(send_acked(self.port, lines), ["OK"] * len(lines))
        self.assertEqual(agent.stop(), 0)
        self.assertIn(f"stop: {MEMORY} event(s) in memory written to the overflow", agent.text())
        self.assertEqual(self.delivered(), [])
        self.unblock_sink()
        agent = self.start("agent-2.log")
        self.wait_delivered(lines, agent)
        self.assertEqual(agent.stop(), 0)

    def test_reload_that_replaces_the_channel_keeps_memory_and_order(self):
        # A reload that changes the channel: the replacement cannot open the directories while
        # the old channel holds them, so the runtime stops the old one first. Its events in
        # memory must reach the replacement, before those sent after the reload.
        self.block_sink()
        agent = self.start("agent.log")
        before = [f"S{i:06d}-end" for i in range(800)]
        self.assertEqual(send_acked(self.port, before), ["OK"] * len(before))
        self.write_conf(MEMORY + 100)
        agent.proc.send_signal(signal.SIGHUP)
        agent.wait_for("configuration reloaded", 60)
        text = agent.text()
        self.assertIn("stopping the old one first", text)
        self.assertIn(f"stop: {MEMORY} event(s) in memory written to the overflow", text)
        after = [f"S{i:06d}-end" for i in range(800, 1200)]
        self.port = agent.port_of("r1")  # the same source, or a new one if it was restarted
        self.assertEqual(send_acked(self.port, after), ["OK"] * len(after))
        self.unblock_sink()
        self.wait_delivered(before + after, agent)
        self.assertEqual(agent.stop(), 0)
        # And once more across a graceful restart: nothing left, nothing delivered twice.
        agent = self.start("agent-2.log")
        self.assertIn("overflow open: 0 events", agent.text())
        self.assertEqual(agent.stop(), 0)
        self.assertEqual(self.delivered(), before + after)


if __name__ == "__main__":
    unittest.main(verbosity=2)
