#!/usr/bin/env python3
"""The flume-ng command and its avro-client, as a Flume user runs them: the tutorial's agent
command line unchanged, Java options ignored with one info line, <conf>/flume-env.sh sourced,
and avro-client sending a file, standard input and a spooling directory to a real sluice avro
source, every line arriving with the header file's headers (read back from a file_roll sink's
avro_event files with Apache Avro's Python reader)."""

import json
import os
import shutil
import re
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import BIN, SOURCE_ROOT, Agent, free_port, wait_until  # noqa: E402
import avro_peer  # noqa: E402,F401  (makes Debian's python3-avro importable)
import avro.datafile  # noqa: E402
import avro.io  # noqa: E402

FLUME_NG = os.path.join(os.path.dirname(os.path.abspath(BIN)), "flume-ng")


def flume_ng(*args, cwd=None, env=None, input=None, timeout=60):
    return subprocess.run([FLUME_NG, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          input=input, timeout=timeout)


def records(directory):
    """Every (headers, body) of the avro_event files in directory (a file being written may be
    incomplete: then None)."""
    out = []
    try:
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name), "rb") as f:
                reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
                out.extend((dict(r["headers"]), r["body"]) for r in reader)
    except Exception:  # noqa: BLE001 - a torn read while the sink writes
        return None
    return out


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return json.loads(r.read().decode())


class FlumeNgTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-flume-ng-")
        self.procs = []
        self.agents = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for a in self.agents:
            a.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_flume_ng(self, args, cwd, log_name="flume-ng.log"):
        log_path = os.path.join(self.dir, log_name)
        with open(log_path, "w") as log:
            p = subprocess.Popen([FLUME_NG, *args], cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)

        def text():
            with open(log_path, errors="replace") as f:
                return f.read()
        return p, text

    # ---- the command itself ----

    def test_help_version_and_unknown_commands(self):
        r = flume_ng("help")
        self.assertEqual(0, r.returncode)
        for word in ("agent", "avro-client", "version", "--conf,-c", "--plugins-path",
                     "--headerFile,-R"):
            self.assertIn(word, r.stdout)
        r = flume_ng("version")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertRegex(r.stdout, r"^sluice \d+\.\d+\.\d+")
        self.assertEqual("", r.stderr)  # as Flume: the version and nothing else
        for args, shown in (((), "''"), (("start",), "'start'")):
            r = flume_ng(*args)
            self.assertEqual(1, r.returncode)
            self.assertIn(f"Error: Unknown or unspecified command {shown}", r.stderr)
            self.assertIn("Usage:", r.stderr)
        r = flume_ng("agent", "-f", "x.properties", "-c")
        self.assertEqual(1, r.returncode)
        self.assertIn("Error: Option --conf requires an argument", r.stderr)
        r = flume_ng("agent", "-c", self.dir, "-f", "x.properties")
        self.assertEqual(1, r.returncode)
        self.assertIn("Error: Missing required option: n", r.stderr)
        r = flume_ng("tool", "FCINTEGRITYTOOL")
        self.assertEqual(1, r.returncode)
        self.assertIn("sluice channel-check", r.stderr)
        # An option neither Flume nor sluice knows: sluice agent's usage error.
        r = flume_ng("agent", "-n", "a1", "-c", "conf", "-f", "conf/seq-logger.properties",
                     "--bogus", cwd=SOURCE_ROOT)
        self.assertEqual(2, r.returncode)
        self.assertIn("bogus", r.stderr)
        self.assertIn("sluice agent options", r.stderr)

    def test_tutorial_agent_command_runs(self):
        """The command line of conf/seq-logger.properties' comment (Flume's user guide form),
        run from the source tree: the logger sink logs the 20 events on the console."""
        p, text = self.start_flume_ng(
            ["agent", "-n", "a1", "-c", "conf", "-f", "conf/seq-logger.properties",
             "-Dflume.root.logger=INFO,console"], cwd=SOURCE_ROOT)
        self.assertTrue(wait_until(lambda: text().count("Event: {") >= 20 or p.poll() is not None,
                                   60), text())
        self.assertEqual(20, text().count("Event: {"))
        self.assertIn("started:", text())
        self.assertNotIn("Info: sluice is not a Java program", text())
        p.send_signal(signal.SIGTERM)
        self.assertEqual(0, p.wait(30), text())

    def test_java_options_ignored_with_one_info_line(self):
        r = flume_ng("agent", "--dryrun", "-n", "a1", "-c", "conf", "-f",
                     "conf/seq-logger.properties", "-Xmx512m", "-Xms64m",
                     "-Dcom.sun.management.jmxremote", "-Dcom.sun.management.jmxremote.port=5445",
                     "--classpath", "/opt/lib/*", "-C", "/opt/more",
                     "-Dorg.apache.flume.log.printconfig=true",
                     "-Dflume.root.logger=DEBUG,console", "-Da1.channels.c1.capacity=50",
                     "--plugins-path", "/opt/plugins.d", "-javaagent:/opt/jmx.jar",
                     cwd=SOURCE_ROOT)
        self.assertEqual(0, r.returncode, r.stderr)
        info = [l for l in r.stderr.splitlines() if l.startswith("Info:")]
        self.assertEqual(1, len(info), r.stderr)
        for opt in ("-Xmx512m", "-Xms64m", "-Dcom.sun.management.jmxremote",
                    "-Dcom.sun.management.jmxremote.port=5445", "--classpath /opt/lib/*",
                    "-C /opt/more", "-Dorg.apache.flume.log.printconfig=true",
                    "-javaagent:/opt/jmx.jar"):
            self.assertIn(opt, info[0])
        cmd = r.stdout.strip()
        self.assertTrue(cmd.startswith(BIN_ABS + " agent --conf conf --plugins-path /opt/plugins.d "
                                       "-Dflume.root.logger=DEBUG,console "
                                       "-Da1.channels.c1.capacity=50 -n a1"), cmd)
        for opt in ("-Xmx", "jmxremote", "printconfig", "/opt/lib", "javaagent"):
            self.assertNotIn(opt, cmd)
        # The override reaches the agent: a capacity below transactionCapacity is refused.
        r = flume_ng("agent", "-n", "a1", "-c", "conf", "-f", "conf/seq-logger.properties",
                     "-Xmx512m", "-Da1.channels.c1.capacity=50", cwd=SOURCE_ROOT)
        self.assertEqual(1, r.returncode)
        self.assertIn("capacity", r.stderr)

    def test_flume_env_sh_is_sourced(self):
        """JAVA_OPTS set in <conf>/flume-env.sh carries Flume's monitoring switches (its Java
        options are ignored); JAVA_OPTS from the environment counts as little as in Flume."""
        conf = os.path.join(self.dir, "conf")
        os.makedirs(conf)
        shutil.copy(os.path.join(SOURCE_ROOT, "conf", "seq-logger.properties"), conf)
        # Port 0 there (the system picks one), 1 in the environment: the logged port tells
        # which JAVA_OPTS won.
        with open(os.path.join(conf, "flume-env.sh"), "w") as f:
            f.write('export JAVA_OPTS="-Xms100m -Xmx2000m -Dcom.sun.management.jmxremote '
                    '-Dflume.monitoring.type=http -Dflume.monitoring.port=0"\n')
        env = dict(os.environ, JAVA_OPTS="-Dflume.monitoring.port=1")
        log_path = os.path.join(self.dir, "env.log")
        with open(log_path, "w") as log:
            p = subprocess.Popen([FLUME_NG, "agent", "-n", "a1", "-c", conf, "-f",
                                  "seq-logger.properties"], cwd=self.dir, env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
            self.procs.append(p)

        def text():
            with open(log_path) as f:
                return f.read()
        listening = re.compile(r"monitoring: listening on http://127\.0\.0\.1:(\d+)")
        self.assertTrue(wait_until(lambda: listening.search(text()) or p.poll() is not None, 60),
                        text())
        port = int(listening.search(text()).group(1))
        self.assertNotEqual(port, 1, "JAVA_OPTS from the environment won over flume-env.sh")
        self.assertIn(f"Info: Sourcing environment configuration script {conf}/flume-env.sh", text())
        info = [l for l in text().splitlines() if l.startswith("Info: sluice is not")]
        self.assertEqual(1, len(info))
        self.assertIn("-Xms100m -Xmx2000m -Dcom.sun.management.jmxremote", info[0])
        self.assertTrue(wait_until(lambda: metrics(port).get("SINK.k1", {})
                                   .get("EventDrainSuccessCount") == "20", 30))
        p.send_signal(signal.SIGTERM)
        self.assertEqual(0, p.wait(30), text())

    # ---- avro-client ----

    def start_collector(self):
        """A sluice agent: avro source (port 0) -> memory -> file_roll writing avro_event files
        (headers and body), with monitoring; returns (agent, port, out dir)."""
        out = os.path.join(self.dir, "out")
        os.makedirs(out)
        conf = os.path.join(self.dir, "collector.properties")
        with open(conf, "w") as f:
            f.write(f"""c.sources = r1
c.channels = c1
c.sinks = k1
c.sources.r1.type = avro
c.sources.r1.bind = 127.0.0.1
c.sources.r1.port = 0
c.sources.r1.channels = c1
c.channels.c1.type = memory
c.channels.c1.capacity = 10000
c.channels.c1.transactionCapacity = 1000
c.sinks.k1.type = file_roll
c.sinks.k1.channel = c1
c.sinks.k1.sink.directory = {out}
c.sinks.k1.sink.rollInterval = 0
c.sinks.k1.sink.batchSize = 1
c.sinks.k1.sink.serializer = avro_event
""")
        agent = Agent(conf, self.dir, name="c", log_name="collector.log",
                      extra_args=["--monitor-port", "0"])
        self.agents.append(agent)
        agent.wait_started(60)
        return agent, agent.port_of("r1"), out

    def wait_records(self, out, n):
        self.assertTrue(wait_until(lambda: (records(out) or []).__len__() >= n, 30),
                        records(out))
        got = records(out)
        self.assertEqual(n, len(got))  # nothing more than sent
        return got

    def test_avro_client_sends_a_file_and_stdin_with_headers(self):
        agent, port, out = self.start_collector()
        headers = os.path.join(self.dir, "headers.properties")
        with open(headers, "w") as f:
            f.write("# Flume's header file: Java properties\nhost = web1\napp: checkout\n"
                    "! another comment\nescaped\\ key=a\\tb\n")
        want_headers = {"host": "web1", "app": "checkout", "escaped key": "a\tb"}
        data = os.path.join(self.dir, "app.log")
        # Lines end at \n, \r\n or \r (Java's readLine); an empty line is an empty event; the
        # last line needs no newline.
        with open(data, "wb") as f:
            f.write(b"first\nsecond\r\nthird\rfourth\n\nsixth \xc3\xa9t\xc3\xa9\nlast")
        want = [b"first", b"second", b"third", b"fourth", b"", "sixth été".encode(), b"last"]
        r = flume_ng("avro-client", "-c", self.dir, "-H", "127.0.0.1", "-p", str(port),
                     "-F", data, "-R", headers)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertIn("avro-client: sent 7 events", r.stderr)
        got = self.wait_records(out, 7)
        self.assertEqual(want, [b for _, b in got])
        for h, _ in got:
            self.assertEqual(want_headers, h)

        # Standard input, no headers; Flume's batches of 5 events (12 lines: 5 + 5 + 2).
        lines = [f"stdin line {i}" for i in range(12)]
        before = metrics(agent.monitor_port())["SOURCE.r1"]
        r = flume_ng("avro-client", "-H", "127.0.0.1", "--port", str(port),
                     input="\n".join(lines) + "\n")
        self.assertEqual(0, r.returncode, r.stderr)
        got = self.wait_records(out, 19)
        self.assertEqual([l.encode() for l in lines], [b for _, b in got[7:]])
        self.assertEqual([{}] * 12, [h for h, _ in got[7:]])
        after = metrics(agent.monitor_port())["SOURCE.r1"]
        self.assertEqual(3, int(after["AppendBatchReceivedCount"])
                         - int(before["AppendBatchReceivedCount"]))
        self.assertEqual(12, int(after["EventAcceptedCount"]) - int(before["EventAcceptedCount"]))

        # sluice avro-client is the same program.
        r = subprocess.run([BIN, "avro-client", "-H", "127.0.0.1", "-p", str(port)],
                           input="via sluice\n", capture_output=True, text=True, timeout=60)
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual(b"via sluice", self.wait_records(out, 20)[-1][1])

    def test_avro_client_rpc_props(self):
        agent, port, out = self.start_collector()
        props = os.path.join(self.dir, "rpc.properties")
        with open(props, "w") as f:
            f.write(f"client.type = default\nhosts = h1\nhosts.h1 = 127.0.0.1:{port}\n"
                    "batch-size = 2\n")
        r = flume_ng("avro-client", "--rpcProps", props, input="a\nb\nc\n")
        self.assertEqual(0, r.returncode, r.stderr)
        self.assertEqual([b"a", b"b", b"c"], [b for _, b in self.wait_records(out, 3)])
        self.assertEqual("2", metrics(agent.monitor_port())["SOURCE.r1"]["AppendBatchReceivedCount"])

    def test_avro_client_dirname_sends_every_file(self):
        agent, port, out = self.start_collector()
        spool = os.path.join(self.dir, "spool")
        os.makedirs(spool)
        files = {"b.log": b"b1\nb2\r\n", "a.log": b"a1\na2\na3", ".hidden": b"never\n",
                 "old.log.COMPLETED": b"never\n"}
        for i, (name, body) in enumerate(files.items()):
            path = os.path.join(spool, name)
            with open(path, "wb") as f:
                f.write(body)
            os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))  # b.log is the oldest
        long_line = "x" * 2100
        with open(os.path.join(spool, "c.log"), "w") as f:
            f.write(long_line + "\n")
        os.utime(os.path.join(spool, "c.log"), (1_700_000_100, 1_700_000_100))
        r = flume_ng("avro-client", "-H", "127.0.0.1", "-p", str(port), "--dirname", spool)
        self.assertEqual(0, r.returncode, r.stderr)
        got = [b for _, b in self.wait_records(out, 7)]
        # Oldest file first; the spooling reader ends lines at \n only (\r stays) and cuts an
        # event at 2048 characters, as Flume's LineDeserializer.
        self.assertEqual([b"b1", b"b2\r", b"a1", b"a2", b"a3", b"x" * 2048, b"x" * 52], got)
        self.assertEqual(sorted([".hidden", "old.log.COMPLETED", "a.log.COMPLETED",
                                 "b.log.COMPLETED", "c.log.COMPLETED"]), sorted(os.listdir(spool)))

    def test_avro_client_usage_errors(self):
        cases = [
            ((), "Either --rpcProps or both --host and --port must be specified."),
            (("-p", "41414"), "You must specify a hostname to connect to with --host"),
            (("-H", "localhost"), "You must specify a port to connect to with --port"),
            (("-H", "localhost", "-p", "41414", "-F", "x", "--dirname", "y"),
             "--filename and --dirname options cannot be used simultaneously"),
            (("-H", "localhost", "-p", "http"), "--port: expected a port number"),
            (("-H", "localhost", "-p"), "Unable to parse command line options"),
        ]
        for args, message in cases:
            r = flume_ng("avro-client", *args)
            self.assertEqual(2, r.returncode, (args, r.stderr))
            self.assertIn("error: " + message, r.stderr)
            self.assertIn("usage: sluice avro-client", r.stderr)
        r = flume_ng("avro-client", "--help")
        self.assertEqual(0, r.returncode)
        self.assertIn("--headerFile", r.stdout)
        # Nothing listening: a failure, said so, exit 1.
        r = flume_ng("avro-client", "-H", "127.0.0.1", "-p", str(free_port()), input="x\n")
        self.assertEqual(1, r.returncode)
        self.assertIn("Unable to open connection to Flume: cannot connect to 127.0.0.1:", r.stderr)


BIN_ABS = os.path.abspath(BIN)

if __name__ == "__main__":
    unittest.main(verbosity=2)
