#!/usr/bin/env python3
"""The systemd notification protocol of `sluice agent` (sluice@.service is Type=notify with
WatchdogSec), tested without systemd: the test owns the datagram socket NOTIFY_SOCKET names, as
systemd would, and reads what the agent sends.

  READY=1      after every component started (the agent's "started:" line is already logged)
  WATCHDOG=1   every half WATCHDOG_USEC while the runners are live; none while a sink is wedged
               in process() (test.stall, tests/package/stall_sink.cpp); again once it recovers
  RELOADING=1, then READY=1   around a reload (SIGHUP)
  STOPPING=1   on SIGTERM, before the agent stops; exit status 0
"""

import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import Agent  # noqa: E402

WATCHDOG_USEC = 1_000_000  # pings every 0.5 s; a process() call over 1 s is wedged


class NotifySocket:
    """The service manager's end: a bound AF_UNIX datagram socket, read without a thread so the
    test knows exactly which messages were sent before a given moment."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.messages = []  # every datagram so far, as a dict of its KEY=VALUE lines

    def drain(self):
        """Reads every datagram already queued; returns the new ones."""
        new = []
        while select.select([self.sock], [], [], 0)[0]:
            data = self.sock.recv(65536).decode()
            new.append(dict(line.split("=", 1) for line in data.split("\n") if "=" in line))
        self.messages += new
        return new

    def wait_for(self, key, timeout, start=0):
        """The index of the first datagram from messages[start] on that has KEY, reading until
        one arrives or timeout seconds pass (then None)."""
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            for i in range(start, len(self.messages)):
                if key in self.messages[i]:
                    return i
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            select.select([self.sock], [], [], left)

    def count(self, key):
        return sum(1 for m in self.messages if key in m)

    def close(self):
        self.sock.close()


class SdNotifyTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-notify-")
        self.plugdir = os.path.join(self.dir, "plugins")
        os.makedirs(self.plugdir)
        plugin = os.path.join(self.plugdir, "libsluice-test-stall.so")
        shutil.copyfile(os.environ["SLUICE_TEST_STALL_PLUGIN"], plugin)
        os.chmod(plugin, 0o755)
        self.stall_file = os.path.join(self.dir, "stall")
        self.conf = os.path.join(self.dir, "a1.toml")
        with open(self.conf, "w") as f:
            f.write(f"""
[a1.sources.r1]
type = "seq"
channels = ["c1"]
totalEvents = 1000
batchSize = 10

[a1.channels.c1]
type = "memory"
capacity = 1000
transactionCapacity = 100

[a1.sinks.k1]
type = "test.stall"
channel = "c1"
stallFile = "{self.stall_file}"
""")
        self.notify = NotifySocket(os.path.join(self.dir, "notify.sock"))
        self.agent = None
        self.cursor = 0  # where expect() looks next in self.notify.messages

    def tearDown(self):
        if self.agent and self.agent.alive():
            if os.path.exists(self.stall_file):
                os.unlink(self.stall_file)
            self.agent.kill9()
        self.notify.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, **env):
        e = os.environ.copy()
        e.pop("WATCHDOG_PID", None)
        e.update({"NOTIFY_SOCKET": os.path.join(self.dir, "notify.sock")}, **env)
        self.agent = Agent(self.conf, self.dir, extra_args=["--plugins-path", self.plugdir],
                           reload=True, env=e)

    def expect(self, key, timeout, what):
        """The first datagram with KEY after the one the previous expect() found."""
        deadline = time.monotonic() + timeout
        i = None
        while i is None and time.monotonic() < deadline and self.agent.alive():
            i = self.notify.wait_for(key, min(0.5, deadline - time.monotonic()), self.cursor)
        if i is None:  # sent just before the agent exited?
            i = self.notify.wait_for(key, 0, self.cursor)
        if i is None:
            self.fail(f"no {key} within {timeout} s ({what}); received "
                      f"{self.notify.messages[self.cursor:]}\n"
                      f"agent log:\n{self.agent.text()[-4000:]}")
        self.cursor = i + 1
        return self.notify.messages[i]

    def exit_status(self):
        """Waits for the agent to exit (after the test's own SIGTERM)."""
        try:
            self.agent.proc.wait(timeout=60)
        finally:
            self.agent.log.close()
        return self.agent.proc.returncode

    def test_ready_watchdog_wedge_reload_stopping(self):
        self.start(WATCHDOG_USEC=str(WATCHDOG_USEC))

        ready = self.expect("READY", 30, "after start")
        self.assertIn("started:", self.agent.text(), "READY=1 came before the agent started")
        self.assertIn("running", ready.get("STATUS", ""))

        # Healthy: pings keep coming, about two per WATCHDOG_USEC.
        for _ in range(4):
            self.expect("WATCHDOG", 5, "from a healthy agent")

        # Wedge the sink: its process() stops returning. Once the agent logs that it noticed,
        # every ping it sent before is already queued; none may follow for three intervals.
        open(self.stall_file, "w").close()
        self.agent.wait_for("watchdog: sink runner k1 has been in one process() call", 15)
        self.notify.drain()
        self.cursor = len(self.notify.messages)
        self.assertIsNone(self.notify.wait_for("WATCHDOG", 3 * WATCHDOG_USEC / 1e6, self.cursor),
                          "WATCHDOG=1 sent while the sink was wedged")
        self.assertTrue(self.agent.alive())

        # Unwedged: the pings resume.
        os.unlink(self.stall_file)
        self.expect("WATCHDOG", 10, "after the sink recovered")
        self.agent.wait_for("watchdog: live again", 10)

        # SIGHUP reloads: RELOADING=1, then READY=1 once the reload is done.
        self.notify.drain()
        self.cursor = len(self.notify.messages)
        self.agent.proc.send_signal(signal.SIGHUP)
        self.expect("RELOADING", 15, "after SIGHUP")
        self.expect("READY", 15, "after the reload")

        # SIGTERM: STOPPING=1, then a clean exit.
        self.agent.proc.send_signal(signal.SIGTERM)
        self.expect("STOPPING", 15, "after SIGTERM")
        self.assertEqual(self.exit_status(), 0, self.agent.text()[-4000:])

    def test_no_watchdog_pings_without_watchdog_usec(self):
        self.start()
        self.expect("READY", 30, "after start")
        # Two of the would-be intervals pass without a ping (and the agent stays up).
        self.assertIsNone(self.notify.wait_for("WATCHDOG", 2 * WATCHDOG_USEC / 1e6))
        self.assertTrue(self.agent.alive())
        self.agent.proc.send_signal(signal.SIGTERM)
        self.expect("STOPPING", 15, "after SIGTERM")
        self.assertEqual(self.exit_status(), 0, self.agent.text()[-4000:])
        self.assertEqual(self.notify.count("WATCHDOG"), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
