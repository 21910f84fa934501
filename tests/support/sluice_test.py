"""Shared helpers for sluice's Python end-to-end tests: run the real binary, wait on conditions
(never fixed sleeps), talk to it over real sockets, read what it wrote.

Import from a test with:
    sys.path.insert(0, os.path.join(os.environ["SLUICE_SOURCE_ROOT"], "tests", "support"))
    from sluice_test import Agent, wait_until, ...

Ports: sluice's listeners (netcat and avro sources, the monitoring server) are configured with
port 0, so the system picks a free one, and the test reads it from the agent's log
(Agent.port_of, Agent.monitor_port). Picking a port first and hoping it is still free when the
agent binds it races with everything else on the machine.
"""

import glob
import os
import re
import signal
import socket
import subprocess
import time
import unittest

BIN = os.environ.get("SLUICE_BIN", "sluice")
SOURCE_ROOT = os.environ.get("SLUICE_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_ROOT = os.environ.get("SLUICE_BUILD_ROOT", "")
CONF_DIR = os.path.join(SOURCE_ROOT, "conf")


def run(*args, timeout=60, **kw):
    """Runs `sluice ARGS...` to completion and returns the CompletedProcess (text mode)."""
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, **kw)


def wait_until(cond, timeout=30.0, interval=0.02):
    """Polls cond() until it is true or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    return cond()


def free_port():
    """A port that was free a moment ago. Only for a test about a port given in advance (such
    as -Dflume.monitoring.port); a listener started for a test binds port 0 instead."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# "[source:netcat:r1] listening on 127.0.0.1:40123 (port chosen by the system)", as the netcat
# and avro sources log it once they are bound; "monitoring: listening on http://HOST:PORT".
SOURCE_LISTENING = re.compile(r"\[source:[^:\]]+:(?P<name>[^\]]+)\] listening on \S*:(?P<port>\d+)")
MONITOR_LISTENING = re.compile(r"monitoring: listening on http://\S*:(?P<port>\d+)")


def seq_conf(path, events, sink="logger", batch_size=10):
    """Writes agent a1 of Flume's tutorial form to path: a seq source of `events` events -> a
    memory channel (capacity 1000, transactionCapacity 100) -> a `sink` sink; returns path."""
    with open(path, "w") as f:
        f.write(f"""a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.sources.r1.totalEvents = {events}
a1.sources.r1.batchSize = {batch_size}
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = {sink}
a1.sinks.k1.channel = c1
""")
    return path


def lines_in(directory, pattern="*"):
    """Every line of every file in directory matching pattern, files in name order."""
    out = []
    for f in sorted(glob.glob(os.path.join(directory, pattern))):
        if os.path.isfile(f):
            with open(f, "rb") as fh:
                out.extend(fh.read().decode("utf-8", "replace").splitlines())
    return out


def send_lines(port, lines, read_acks):
    """Sends lines to a netcat source; with read_acks, returns its replies (OK/FAILED)."""
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


class Agent:
    """A `sluice agent` process with its output in workdir/agent.log (or log_name).

    conf: path of a .toml or .properties file; overrides: dict for -Dkey=value;
    extra_args: more CLI arguments (e.g. ["--monitor-port", "0"])."""

    def __init__(self, conf, workdir, overrides=None, name="a1", extra_args=(), reload=False,
                 log_name="agent.log", env=None):
        self.log_path = os.path.join(workdir, log_name)
        args = [BIN, "agent", "-n", name, "-f", conf]
        if not reload:
            args.append("--no-reload-conf")
        args += [f"-D{k}={v}" for k, v in (overrides or {}).items()]
        args += list(extra_args)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env if env is not None else os.environ.copy())

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def wait_for(self, needle, timeout=30.0):
        """Waits until needle appears in the log; fails early if the agent exits."""
        ok = wait_until(lambda: needle in self.text() or not self.alive(), timeout)
        if not ok or needle not in self.text():
            raise AssertionError(f"'{needle}' not seen in the agent log (alive={self.alive()}):\n"
                                 + self.text()[-6000:])

    def wait_started(self, timeout=30.0):
        self.wait_for("started:", timeout)

    def _logged_port(self, regex, accept, what, timeout):
        """The port of the last log line regex matches (and accept(match) allows); waits for
        one, failing early if the agent exits."""
        def last():
            ports = [int(m.group("port")) for m in regex.finditer(self.text()) if accept(m)]
            return ports[-1] if ports else None
        wait_until(lambda: last() is not None or not self.alive(), timeout)
        port = last()
        if port is None:
            raise AssertionError(f"no '{what}' line in the agent log (alive={self.alive()}):\n"
                                 + self.text()[-6000:])
        return port

    def port_of(self, source="r1", timeout=30.0):
        """The port source `source` (netcat or avro, configured with port 0) listens on, from
        its 'listening on' log line (the last one: a reload may have restarted it)."""
        return self._logged_port(SOURCE_LISTENING, lambda m: m.group("name") == source,
                                 f"[source:...:{source}] listening on", timeout)

    def monitor_port(self, timeout=30.0):
        """The port of the monitoring server (--monitor-port 0), from its log line."""
        return self._logged_port(MONITOR_LISTENING, lambda m: True, "monitoring: listening on",
                                 timeout)

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self, timeout=30.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        return self.proc.returncode


def copy_test_plugin(workdir):
    """Copies the test plugin (test.header_seq, test.file_sink...) into workdir/plugins with
    safe permissions (the loader refuses group- or world-writable files) and returns that dir,
    for --plugins-path."""
    import shutil
    plugdir = os.path.join(workdir, "plugins")
    os.makedirs(plugdir, exist_ok=True)
    target = os.path.join(plugdir, "libsluice-test-plugins.so")
    shutil.copyfile(os.environ["SLUICE_TEST_PLUGIN"], target)
    os.chmod(target, 0o755)
    return plugdir


def port_open(port, timeout=30.0):
    """Waits until something accepts connections on 127.0.0.1:port; returns whether it did."""
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    return wait_until(up, timeout)


def send_acked(port, lines, chunk=100, timeout=20):
    """Sends lines to a netcat source (ack-every-event) in chunks on one connection, waiting for
    each chunk's replies before the next; returns the replies ("OK" or "FAILED: ...")."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        buf = b""
        for i in range(0, len(lines), chunk):
            part = lines[i:i + chunk]
            s.sendall(("\n".join(part) + "\n").encode())
            while buf.count(b"\n") < len(part):
                data = s.recv(65536)
                if not data:
                    return replies + [r.decode() for r in buf.split(b"\n") if r]
                buf += data
            got = buf.split(b"\n")
            replies += [r.decode() for r in got[:len(part)]]
            buf = b"\n".join(got[len(part):])
    return replies


def matches_in(path, regex):
    """Every match of the compiled bytes regex in the file, in order, decoded ([] if no file)."""
    try:
        with open(path, "rb") as f:
            return [m.group(0).decode() for m in regex.finditer(f.read())]
    except FileNotFoundError:
        return []


class AgentTestCase(unittest.TestCase):
    """A test case with a fresh temporary directory (self.dir) holding a copy of the test plugin
    (self.plugdir); agents started with start_agent are killed at tearDown if still alive."""

    dir_prefix = "sluice-e2e-"

    def setUp(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix=self.dir_prefix)
        self.plugdir = copy_test_plugin(self.dir)
        self.agents = []

    def tearDown(self):
        import shutil
        for a in self.agents:
            if a.alive():
                a.kill9()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        """Writes text to self.dir/name; returns the path."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start_agent(self, conf, log_name="agent.log", extra_args=(), **kw):
        """Starts `sluice agent` with the test plugins and waits until it started. A source
        configured with port 0 is then listening: agent.port_of(name) says on which port."""
        a = Agent(conf, self.dir, extra_args=["--plugins-path", self.plugdir, *extra_args],
                  log_name=log_name, **kw)
        self.agents.append(a)
        a.wait_started(timeout=60)
        return a
