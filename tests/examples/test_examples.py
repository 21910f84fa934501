#!/usr/bin/env python3
"""Starts every example config in conf/ (TOML and Flume .properties alike), feeds it, and checks
what comes out. Ports and output directories are redirected with -D overrides, the way a user
would adapt an example without editing it."""

import glob
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.environ["SLUICE_BIN"]
CONF = os.path.join(os.environ["SLUICE_SOURCE_ROOT"], "conf")


def wait_until(cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lines_in(directory):
    out = []
    for f in sorted(glob.glob(os.path.join(directory, "*"))):
        with open(f, "rb") as fh:
            out.extend(fh.read().decode("utf-8", "replace").splitlines())
    return out


class Agent:
    def __init__(self, conf, overrides, workdir):
        self.log_path = os.path.join(workdir, "agent.log")
        args = [BIN, "agent", "-n", "a1", "-f", conf, "--no-reload-conf"]
        args += [f"-D{k}={v}" for k, v in overrides.items()]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def text(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_started(self):
        if not wait_until(lambda: "started:" in self.text() or self.proc.poll() is not None, 30):
            raise AssertionError("agent did not start:\n" + self.text())
        if self.proc.poll() is not None:
            raise AssertionError("agent exited:\n" + self.text())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def send(port, lines, read_acks):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        payload = "".join(l + "\n" for l in lines).encode()
        s.sendall(payload)
        if read_acks:
            got = b""
            while got.count(b"\n") < len(lines):
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            return got.decode().splitlines()
        s.shutdown(socket.SHUT_WR)
        return []


class ExamplesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sluice-examples-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def start(self, name, fmt, sinks_dirs=(), netcat=True):
        conf = os.path.join(CONF, f"{name}.{fmt}")
        overrides = {}
        self.port = None
        if netcat:
            self.port = free_port()
            overrides["a1.sources.r1.port"] = str(self.port)
        dirs = {}
        for sink in sinks_dirs:
            d = os.path.join(self.dir, sink)
            overrides[f"a1.sinks.{sink}.sink.directory"] = d
            dirs[sink] = d
        agent = Agent(conf, overrides, self.dir)
        self.addCleanup(agent.stop)
        agent.wait_started()
        return agent, dirs

    def test_every_example_exists_in_both_formats(self):
        names = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(CONF + "/*.*")}
        for n in names:
            self.assertTrue(os.path.exists(f"{CONF}/{n}.toml"), n)
            self.assertTrue(os.path.exists(f"{CONF}/{n}.properties"), n)
        for n in ["seq-logger", "netcat-logger", "netcat-file_roll", "replicating", "multiplexing",
                  "failover", "load_balance"]:
            self.assertIn(n, names)
        # Every example validates.
        for p in glob.glob(CONF + "/*.*"):
            r = subprocess.run([BIN, "validate", "-n", "a1", "-f", p], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, p + ":\n" + r.stderr)

    def each_format(self, fn):
        for fmt in ("toml", "properties"):
            with self.subTest(fmt=fmt):
                fn(fmt)
                # Fresh directories for the next format.
                self.tmp.cleanup()
                self.tmp = tempfile.TemporaryDirectory(prefix="sluice-examples-")
                self.dir = self.tmp.name

    def test_seq_logger(self):
        def check(fmt):
            agent, _ = self.start("seq-logger", fmt, netcat=False)
            self.assertTrue(wait_until(lambda: agent.text().count("Event: {") >= 20))
            self.assertEqual(agent.stop(), 0)
            self.assertEqual(agent.text().count("Event: {"), 20)
        self.each_format(check)

    def test_netcat_logger(self):
        def check(fmt):
            agent, _ = self.start("netcat-logger", fmt)
            acks = send(self.port, [f"hello {i}" for i in range(5)], read_acks=True)
            self.assertEqual(acks, ["OK"] * 5)
            self.assertTrue(wait_until(lambda: agent.text().count("Event: {") >= 5), agent.text())
            self.assertEqual(agent.stop(), 0)
            self.assertIn("68 65 6C 6C 6F 20 30", agent.text().upper())  # "hello 0" as hex
        self.each_format(check)

    def test_netcat_file_roll(self):
        def check(fmt):
            agent, dirs = self.start("netcat-file_roll", fmt, ["k1"])
            sent = [f"line-{i:05d} " + "x" * 100 for i in range(1000)]
            send(self.port, sent, read_acks=False)
            self.assertTrue(wait_until(lambda: len(lines_in(dirs["k1"])) >= 1000))
            self.assertEqual(agent.stop(), 0)
            self.assertEqual(lines_in(dirs["k1"]), sent)
        self.each_format(check)

    def test_replicating(self):
        def check(fmt):
            agent, dirs = self.start("replicating", fmt, ["k1", "k2"])
            sent = [f"copy {i}" for i in range(100)]
            send(self.port, sent, read_acks=True)
            self.assertTrue(wait_until(lambda: len(lines_in(dirs["k1"])) >= 100 and
                                       len(lines_in(dirs["k2"])) >= 100))
            self.assertEqual(agent.stop(), 0)
            self.assertEqual(lines_in(dirs["k1"]), sent)
            self.assertEqual(lines_in(dirs["k2"]), sent)
        self.each_format(check)

    def test_multiplexing(self):
        def check(fmt):
            agent, dirs = self.start("multiplexing", fmt, ["k1", "k2", "k3"])
            sent = [f"{cc}: event {i}" for i in range(60) for cc in ("CZ", "US", "FR")]
            send(self.port, sent, read_acks=True)
            self.assertTrue(wait_until(lambda: sum(len(lines_in(d)) for d in dirs.values()) >= 180))
            self.assertEqual(agent.stop(), 0)
            self.assertEqual(lines_in(dirs["k1"]), [l for l in sent if l.startswith("CZ")])
            self.assertEqual(lines_in(dirs["k2"]), [l for l in sent if l.startswith("US")])
            self.assertEqual(lines_in(dirs["k3"]), [l for l in sent if l.startswith("FR")])
        self.each_format(check)

    def test_failover(self):
        def check(fmt):
            agent, dirs = self.start("failover", fmt, ["k1", "k2"])
            sent = [f"fo {i}" for i in range(200)]
            send(self.port, sent, read_acks=True)
            self.assertTrue(wait_until(lambda: len(lines_in(dirs["k1"])) >= 200))
            self.assertEqual(agent.stop(), 0)
            self.assertEqual(lines_in(dirs["k1"]), sent)  # the primary takes everything
            self.assertEqual(lines_in(dirs["k2"]), [])
        self.each_format(check)

    def test_load_balance(self):
        def check(fmt):
            agent, dirs = self.start("load_balance", fmt, ["k1", "k2"])
            sent = []
            for burst in range(20):
                chunk = [f"lb {burst}-{i}" for i in range(50)]
                send(self.port, chunk, read_acks=True)
                sent += chunk
                n = len(sent)
                self.assertTrue(wait_until(
                    lambda: len(lines_in(dirs["k1"])) + len(lines_in(dirs["k2"])) >= n))
            self.assertEqual(agent.stop(), 0)
            a, b = lines_in(dirs["k1"]), lines_in(dirs["k2"])
            self.assertEqual(sorted(a + b), sorted(sent))
            # Round robin over batches: both sinks get a real share.
            self.assertGreater(len(a), len(sent) // 5)
            self.assertGreater(len(b), len(sent) // 5)
        self.each_format(check)


if __name__ == "__main__":
    unittest.main(verbosity=2)
