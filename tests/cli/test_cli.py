#!/usr/bin/env python3
"""End-to-end tests of the sluice command line: real processes, real files, real signals."""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import BIN, Agent, copy_test_plugin, run, wait_until  # noqa: E402


SEQ_LOGGER_TOML = """
[a1.sources.r1]
type = "seq"
totalEvents = {n}
batchSize = 5
channels = ["c1"]

[a1.channels.c1]
type = "memory"
capacity = 1000
transactionCapacity = 100

[a1.sinks.k1]
type = "logger"
channel = "c1"
"""

SEQ_LOGGER_PROPS = """
# Flume's own syntax, unchanged
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = org.apache.flume.source.SequenceGeneratorSource
a1.sources.r1.totalEvents = {n}
a1.sources.r1.channels = c1
a1.channels.c1.type = org.apache.flume.channel.MemoryChannel
a1.channels.c1.capacity = 1000
a1.sinks.k1.type = org.apache.flume.sink.LoggerSink
a1.sinks.k1.channel = c1

# a second agent in the same file
b1.sources = s1
b1.channels = d1
b1.sources.s1.type = seq
b1.sources.s1.channels = d1
b1.channels.d1.type = memory
"""


# The hot-reload tests' agent: the test plugin's source -> memory -> file sink writing {out}.
RELOAD_TEMPLATE = """
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = {total}
a1.sources.r1.batchSize = 10
a1.sources.r1.sleepMs = 5
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = {out}
{extra}"""


def count_lines(path):
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return sum(1 for _ in f)


class CliTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sluice-cli-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_agent_until(self, args, pattern, count):
        """Starts an agent, waits until its log has `count` matches, SIGTERMs it."""
        log_path = os.path.join(self.dir, "agent.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([BIN, "agent", *args], stdout=log, stderr=subprocess.STDOUT)
        try:
            def enough():
                with open(log_path) as f:
                    return len(re.findall(pattern, f.read())) >= count
            ok = wait_until(enough, 30)
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with open(log_path) as f:
            text = f.read()
        self.assertTrue(ok, "agent never logged enough events:\n" + text[-3000:])
        return rc, text

    def test_version(self):
        r = run("version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^sluice \d+\.\d+\.\d+ \(plugin SDK ABI 3\.\d+, libstdc\+\+")

    def test_plugins_lists_builtins_with_their_files(self):
        r = run("plugins")
        self.assertEqual(r.returncode, 0, r.stderr)
        for kind, typ in [("channel", "memory"), ("source", "seq"), ("sink", "logger"),
                          ("sink", "null"), ("selector", "replicating"),
                          ("selector", "multiplexing")]:
            self.assertRegex(r.stdout, rf"(?m)^{kind}\t{re.escape(typ)}\t.*\.so$")
        self.assertIn("org.apache.flume.channel.MemoryChannel", r.stdout)

    def test_describe_prints_schema(self):
        r = run("describe", "memory")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("transactionCapacity", r.stdout)
        self.assertRegex(r.stdout, r"capacity\s+integer.*default=100")
        r = run("describe", "org.apache.flume.source.SequenceGeneratorSource")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("totalEvents", r.stdout)
        r = run("describe", "memroy")
        self.assertEqual(r.returncode, 1)
        self.assertIn("memroy", r.stderr)

    def test_describe_prints_the_hosts_own_keys(self):
        # Sink processors and the monitoring keys have schemas like every plugin.
        r = run("describe", "failover")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sink-processor failover (stable, built into sluice)", r.stdout)
        self.assertRegex(r.stdout, r"maxpenalty\s+long\s+default=30000")
        self.assertRegex(r.stdout, r"priority\.\*\s+integer")
        r = run("describe", "load_balance")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"selector\.maxTimeOut\s+long\s+default=30000")
        r = run("describe", "monitoring")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"maxConnections\s+integer\s+default=64")
        self.assertRegex(r.stdout, r"statsd\.port\s+integer")

    def test_misspelled_processor_and_monitoring_keys_get_a_hint_and_the_line(self):
        group = self.write("group.properties", """a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sinkgroups = g1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
a1.sinks.k2.type = null
a1.sinks.k2.channel = c1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priorty.k1 = 10
""")
        # In .properties: a warning (Flume ignores the key too) and the config is valid ...
        r = run("validate", "-f", group)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: a1.sinkgroups.g1.processor.priorty.k1: unknown key for type "
                      "'failover' (did you mean 'priority.k1'?) (" + group + ":14); Flume ignores "
                      "an unknown key too", r.stderr)
        self.assertIn("agent 'a1' is valid", r.stdout)
        # ... and under --strict the error it was.
        r = run("validate", "--strict", "-f", group)
        self.assertEqual(r.returncode, 1)
        self.assertIn("error: a1.sinkgroups.g1.processor.priorty.k1: unknown key for type "
                      "'failover' (did you mean 'priority.k1'?) (" + group + ":14)", r.stderr)
        mon = self.write("mon.properties", "monitoring.prot = 0\n" + SEQ_LOGGER_PROPS.format(n=1))
        r = run("agent", "-n", "a1", "-f", mon, "--no-reload-conf")
        self.assertEqual(r.returncode, 1)
        self.assertIn("monitoring.prot: unknown key for type 'monitoring' (did you mean 'port'?) ("
                      + mon + ":1)", r.stderr)

    def test_validate_good_and_bad(self):
        good = self.write("good.properties", SEQ_LOGGER_PROPS.format(n=10))
        r = run("validate", "-n", "a1", "-f", good)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("agent 'a1' is valid", r.stdout)

        bad = self.write("bad.toml", """
[a1.sources.r1]
type = "seq"
channels = ["c9"]

[a1.channels.c1]
type = "memory"
capacity = 10
transactionCapacity = 100

[a1.sinks.k1]
type = "logger"
channel = "c1"
maxBytesToLgo = 5
""")
        r = run("validate", "-f", bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("c9", r.stderr)
        self.assertIn("bad.toml:4", r.stderr)
        self.assertIn("nothing was started", r.stderr)

    def test_validate_reports_all_errors_with_lines(self):
        bad = self.write("bad2.toml", """
[a1.sources.r1]
type = "seq"
channels = ["c1"]
totalEvents = "many"

[a1.channels.c1]
type = "memory"
capacity = 10
transactionCapacity = 100

[a1.sinks.k1]
type = "logger"
channel = "c1"
maxBytesToLgo = 5
""")
        r = run("validate", "-f", bad)
        self.assertEqual(r.returncode, 1)
        errs = [l for l in r.stderr.splitlines() if l.startswith("error:")]
        self.assertGreaterEqual(len(errs), 3, r.stderr)
        self.assertIn("a1.sources.r1.totalEvents: expected an integer, got 'many' (", r.stderr)
        self.assertIn("bad2.toml:5", r.stderr)
        self.assertIn("a1.sinks.k1.maxBytesToLgo: unknown key", r.stderr)
        self.assertIn("did you mean 'maxBytesToLog'", r.stderr)
        self.assertIn("a1.channels.c1", r.stderr)
        self.assertIn("transactionCapacity", r.stderr)

    def test_malformed_file_names_line(self):
        bad = self.write("broken.toml", "[a1.sources.r1]\ntype = \"seq\nchannels = 3\n")
        r = run("validate", "-f", bad)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"broken\.toml:2")

    def test_several_agents_need_a_name(self):
        f = self.write("two.properties", SEQ_LOGGER_PROPS.format(n=1))
        r = run("validate", "-f", f)
        self.assertEqual(r.returncode, 2)
        self.assertIn("a1", r.stderr)
        self.assertIn("b1", r.stderr)
        r = run("validate", "-f", f, "-n", "zz")
        self.assertEqual(r.returncode, 1)
        self.assertIn("zz", r.stderr)

    def test_agent_toml_runs_and_stops_gracefully(self):
        cfg = self.write("a.toml", SEQ_LOGGER_TOML.format(n=50))
        rc, text = self.run_agent_until(["-n", "a1", "-f", cfg], r"Event: \{", 50)
        self.assertEqual(rc, 0, text[-2000:])
        events = re.findall(r"\[sink:logger:k1\] Event: \{ headers:\{\} body: .*", text)
        self.assertEqual(len(events), 50, text[-2000:])
        self.assertIn("agent 'a1' stopped", text)

    def test_agent_flume_spelling_and_overrides(self):
        self.write("flume.properties", SEQ_LOGGER_PROPS.format(n=1000))
        rc, text = self.run_agent_until(
            ["--name", "a1", "--conf", self.dir, "--conf-file", "flume.properties",
             "-Dflume.root.logger=DEBUG,console", "-Da1.sources.r1.totalEvents=7"],
            r"Event: \{", 7)
        self.assertEqual(rc, 0, text[-2000:])
        self.assertEqual(len(re.findall(r"Event: \{", text)), 7)
        self.assertRegex(text, r"debug +\[loader\] \S*libsluice-source-seq\.so: source:seq")

    def test_agent_refuses_to_start_on_error(self):
        cfg = self.write("bad.properties", "a1.sources = r1\na1.sources.r1.type = seq\n")
        r = run("agent", "-n", "a1", "-f", cfg, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("a1.sources.r1", r.stderr)
        self.assertIn("channels", r.stderr)

    def test_plugin_dirs_from_env_and_config_key(self):
        plugdir = os.path.join(self.dir, "plugins.d", "testplug", "lib")
        os.makedirs(plugdir)
        target = os.path.join(plugdir, "libsluice-test-plugins.so")
        with open(os.environ["SLUICE_TEST_PLUGIN"], "rb") as src, open(target, "wb") as dst:
            dst.write(src.read())
        os.chmod(target, 0o755)
        body = ("a1.sources = r1\na1.channels = c1\na1.sources.r1.type = test.header_seq\n"
                "a1.sources.r1.channels = c1\na1.channels.c1.type = memory\n")
        cfg = self.write("p.properties", body)
        r = run("validate", "-f", cfg)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown source type 'test.header_seq'", r.stderr)
        env = dict(os.environ, SLUICE_PLUGINS_PATH=os.path.join(self.dir, "plugins.d"))
        r = subprocess.run([BIN, "validate", "-f", cfg], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        cfg2 = self.write("p2.properties",
                          "plugins.path = " + os.path.join(self.dir, "plugins.d") + "\n" + body)
        r = run("validate", "-f", cfg2)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("plugins", "--plugins-path", os.path.join(self.dir, "plugins.d"))
        self.assertRegex(r.stdout, r"(?m)^source\ttest\.header_seq\t.*libsluice-test-plugins\.so$")
        # A plugin file others can write is refused, with the way out named.
        os.chmod(target, 0o777)
        r = subprocess.run([BIN, "validate", "-f", cfg], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("writable by group or others", r.stderr)
        r = subprocess.run([BIN, "validate", "-f", cfg, "--allow-insecure-plugins"],
                           capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)

    def copy_test_plugin(self):
        return copy_test_plugin(self.dir)

    def test_second_signal_forces_exit(self):
        # The sink fails forever, so the graceful stop would wait the whole 60 s drain timeout;
        # a second SIGTERM must end the process at once.
        plugdir = self.copy_test_plugin()
        fail = self.write("fail", "")
        cfg = self.write("stuck.properties", f"""
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 50
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = {self.dir}/out
a1.sinks.k1.failFile = {fail}
""")
        log_path = os.path.join(self.dir, "stuck.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([BIN, "agent", "-n", "a1", "-f", cfg, "--drain-timeout", "60000",
                                     "--plugins-path", plugdir], stdout=log, stderr=subprocess.STDOUT)

        def logged(text):
            with open(log_path) as f:
                return text in f.read()
        try:
            self.assertTrue(wait_until(lambda: logged("started:")))
            proc.send_signal(signal.SIGTERM)
            self.assertTrue(wait_until(lambda: logged("stopping agent 'a1'")))
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=20)
            elapsed = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.assertEqual(rc, 130)
        self.assertLess(elapsed, 10)

    def test_sigint_stops_gracefully_and_drains(self):
        # Ctrl-C must do what SIGTERM does: stop the source, let the sinks drain what the channel
        # holds, exit 0. The sink fails until the stop has begun, so the channel is known to hold
        # events when SIGINT arrives and they can only arrive through the drain.
        plugdir = self.copy_test_plugin()
        out = os.path.join(self.dir, "out")
        fail = self.write("fail", "")
        cfg = self.write("int.properties", f"""
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = test.header_seq
a1.sources.r1.totalEvents = 100000000
a1.sources.r1.batchSize = 10
a1.sources.r1.sleepMs = 2
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = {out}
a1.sinks.k1.failFile = {fail}
""")
        log_path = os.path.join(self.dir, "int.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([BIN, "agent", "-n", "a1", "-f", cfg, "--drain-timeout", "60000",
                                     "--plugins-path", plugdir], stdout=log, stderr=subprocess.STDOUT)

        def log_text():
            with open(log_path) as f:
                return f.read()
        try:
            self.assertTrue(wait_until(lambda: "started:" in log_text()), log_text())
            self.assertTrue(wait_until(lambda: "failing on purpose" in log_text()), log_text())
            proc.send_signal(signal.SIGINT)
            self.assertTrue(wait_until(lambda: "stopping agent 'a1'" in log_text()), log_text())
            self.assertEqual(count_lines(out), 0, "the sink wrote before the stop")
            os.remove(fail)
            rc = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = log_text()
        self.assertEqual(rc, 0, "SIGINT must stop gracefully, not kill (130):\n" + text[-3000:])
        self.assertIn("agent 'a1' stopped", text)
        self.assertNotIn("second signal", text)
        self.assertNotIn("still in its channel", text, "the drain left events behind")
        with open(out) as f:
            bodies = [l.split(" ")[0] for l in f]
        # Everything the source emitted before the stop, once each: drained, none lost.
        self.assertGreater(len(bodies), 0)
        self.assertEqual(sorted(bodies, key=int), [str(i) for i in range(len(bodies))])

    def test_config_edit_reloads_without_restart(self):
        plugdir = self.copy_test_plugin()
        out_a, out_b = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        template = RELOAD_TEMPLATE.replace("{total}", "4000")
        cfg = self.write("live.properties", template.format(out=out_a, extra=""))
        log_path = os.path.join(self.dir, "live.log")
        with open(log_path, "w") as log:
            # --strict: an unknown key is an invalid edit (without it, a warning:
            # test_flume_compat.py).
            proc = subprocess.Popen([BIN, "agent", "-n", "a1", "-f", cfg, "--plugins-path", plugdir,
                                     "--strict"],
                                    stdout=log, stderr=subprocess.STDOUT)

        def log_text():
            with open(log_path) as f:
                return f.read()
        try:
            self.assertTrue(wait_until(lambda: count_lines(out_a) >= 200), log_text())
            # An invalid edit (unknown key, --strict) is refused and the pipeline keeps running.
            with open(cfg, "w") as f:
                f.write(template.format(out=out_a, extra="a1.sinks.k1.bogusKey = 1\n"))
            self.assertTrue(wait_until(lambda: "reload refused" in log_text()), log_text())
            self.assertIn("a1.sinks.k1.bogusKey: unknown key", log_text())
            n = count_lines(out_a)
            self.assertTrue(wait_until(lambda: count_lines(out_a) > n + 50), "flow stopped after a bad edit")
            # A valid edit: written atomically (temp file + rename), as editors do.
            tmp = cfg + ".tmp"
            with open(tmp, "w") as f:
                f.write(template.format(out=out_b, extra=""))
            os.rename(tmp, cfg)
            self.assertTrue(wait_until(lambda: "configuration reloaded" in log_text()), log_text())
            self.assertRegex(log_text(), r"kept running: .*channel:c1.*source:r1")
            self.assertTrue(wait_until(lambda: count_lines(out_a) + count_lines(out_b) >= 4000, 60), log_text())
            self.assertEqual(proc.poll(), None, "the agent restarted or died")
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=30), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        bodies = []
        for p in (out_a, out_b):
            with open(p) as f:
                bodies += [l.split(" ")[0] for l in f]
        self.assertGreater(count_lines(out_b), 0)
        self.assertEqual(sorted(bodies, key=int), [str(i) for i in range(4000)])

    def test_sighup_reloads_even_with_watching_off(self):
        plugdir = self.copy_test_plugin()
        out_a, out_b = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        template = RELOAD_TEMPLATE.replace("{total}", "3000")
        cfg = self.write("hup.properties", template.format(out=out_a, extra=""))
        log_path = os.path.join(self.dir, "hup.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([BIN, "agent", "-n", "a1", "-f", cfg, "--plugins-path", plugdir,
                                     "--no-reload-conf"], stdout=log, stderr=subprocess.STDOUT)

        def log_text():
            with open(log_path) as f:
                return f.read()
        try:
            self.assertTrue(wait_until(lambda: count_lines(out_a) >= 100), log_text())
            with open(cfg, "w") as f:
                f.write(template.format(out=out_b, extra=""))
            # Watching is off: the edit alone changes nothing until SIGHUP asks for it.
            n = count_lines(out_a)
            self.assertTrue(wait_until(lambda: count_lines(out_a) > n + 100), log_text())
            self.assertEqual(count_lines(out_b), 0)
            self.assertNotIn("configuration reloaded", log_text())
            proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_until(lambda: "configuration reloaded" in log_text()), log_text())
            self.assertTrue(wait_until(lambda: count_lines(out_a) + count_lines(out_b) >= 3000, 60), log_text())
            self.assertGreater(count_lines(out_b), 0)
            self.assertIsNone(proc.poll(), "SIGHUP must not stop the agent")
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=30), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def test_poll_fallback_sees_an_edit_inotify_cannot(self):
        # The config path is a symlink into another directory, as a Kubernetes ConfigMap mounts
        # it: writes to the target happen where the watcher's inotify does not look, so only the
        # --reload-interval poll can see them.
        plugdir = self.copy_test_plugin()
        out_a, out_b = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        template = RELOAD_TEMPLATE.replace("{total}", "3000")
        real_dir = os.path.join(self.dir, "real")
        os.makedirs(real_dir)
        target = os.path.join(real_dir, "agent.properties")
        with open(target, "w") as f:
            f.write(template.format(out=out_a, extra=""))
        link_dir = os.path.join(self.dir, "mounted")
        os.makedirs(link_dir)
        cfg = os.path.join(link_dir, "agent.properties")
        os.symlink(target, cfg)
        log_path = os.path.join(self.dir, "poll.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([BIN, "agent", "-n", "a1", "-f", cfg, "--plugins-path", plugdir,
                                     "--reload-interval", "1"], stdout=log, stderr=subprocess.STDOUT)

        def log_text():
            with open(log_path) as f:
                return f.read()
        try:
            self.assertTrue(wait_until(lambda: count_lines(out_a) >= 100), log_text())
            t0 = time.monotonic()
            with open(target, "w") as f:
                f.write(template.format(out=out_b, extra=""))
            self.assertTrue(wait_until(lambda: "configuration reloaded" in log_text(), 15), log_text())
            # Within a few poll intervals, not the 30 s default.
            self.assertLess(time.monotonic() - t0, 10)
            self.assertTrue(wait_until(lambda: count_lines(out_a) + count_lines(out_b) >= 3000, 60), log_text())
            self.assertGreater(count_lines(out_b), 0)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=30), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        bodies = []
        for p in (out_a, out_b):
            with open(p) as f:
                bodies += [l.split(" ")[0] for l in f]
        self.assertEqual(sorted(bodies, key=int), [str(i) for i in range(3000)])

    def test_client_gone_before_its_acks_does_not_kill_the_agent(self):
        # SIGPIPE is ignored: writing acks to a closed connection is an error on that connection.
        import socket
        out = os.path.join(self.dir, "out")
        cfg = self.write("pipe.properties", f"""
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = {out}
a1.sinks.k1.sink.rollInterval = 0
""")
        agent = Agent(cfg, self.dir, log_name="pipe.log")

        def connect():
            try:
                return socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                return None

        def lines():
            return sum(sum(1 for _ in open(os.path.join(out, f)))
                       for f in os.listdir(out)) if os.path.isdir(out) else 0
        try:
            port = agent.port_of("r1")
            c = wait_until(connect)
            self.assertIsNotNone(c, agent.text())
            # Many lines, then an abortive close (RST) while the agent still writes "OK"s.
            import struct
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.sendall(b"".join(b"line%d\n" % i for i in range(20000)))
            c.close()
            self.assertTrue(wait_until(lambda: lines() >= 1, 30), agent.text())
            # Still alive and still serving.
            c2 = wait_until(connect)
            self.assertIsNotNone(c2)
            c2.sendall(b"after\n")
            self.assertEqual(c2.recv(3), b"OK\n")
            c2.close()
            self.assertTrue(agent.alive())
            self.assertEqual(agent.stop(), 0)  # SIGTERM
        finally:
            if agent.alive():
                agent.kill9()

    def test_unknown_command_and_missing_file(self):
        r = run("bogus")
        self.assertEqual(r.returncode, 2)
        r = run("validate", "-f", os.path.join(self.dir, "nope.toml"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope.toml", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
