#!/usr/bin/env python3
"""A Flume config that Flume runs starts unchanged: keys no component knows are warnings in
.properties (errors in TOML and under --strict), --lenient drops what Flume drops, and config
filters and ${VAR} substitution work as in Flume 1.10+. Real processes, files and scripts."""

import os
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import BIN, AgentTestCase, run, wait_until  # noqa: E402

FLUME_NG = os.path.join(os.path.dirname(os.path.abspath(BIN)), "flume-ng")

# seq -> memory -> file_roll; {extra} holds the lines a test adds.
SEQ_FILE_ROLL = """a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = {n}
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = {out}
a1.sinks.k1.sink.rollInterval = 0
{extra}"""

# For reloads: the test plugin's paced source (2000 events/s) instead of seq.
PACED_FILE_ROLL = SEQ_FILE_ROLL.replace(
    "a1.sources.r1.type = seq\n",
    "a1.sources.r1.type = test.header_seq\na1.sources.r1.batchSize = 10\n"
    "a1.sources.r1.sleepMs = 5\n")

# What tutorials write for a Kafka sink, with two keys Flume silently ignores: the misspelled
# kafka.flumeBatchSize (Flume's key is flumeBatchSize) and processor.selector.maxTimeout (Flume
# reads maxTimeOut).
KAFKA_GROUP = """a1.sources = r1
a1.channels = c1
a1.sinks = k1 k2
a1.sinkgroups = g1
a1.sources.r1.type = seq
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink
a1.sinks.k1.kafka.bootstrap.servers = 127.0.0.1:9
a1.sinks.k1.kafka.topic = t
a1.sinks.k1.kafka.flumeBatchSize = 20
a1.sinks.k1.channel = c1
a1.sinks.k2.type = null
a1.sinks.k2.channel = c1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = load_balance
a1.sinkgroups.g1.processor.selector = round_robin
a1.sinkgroups.g1.processor.selector.maxTimeout = 10000
"""


def lines_in(directory):
    n = 0
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            with open(os.path.join(directory, name), errors="replace") as f:
                n += sum(1 for _ in f)
    return n


class UnknownKeysTest(AgentTestCase):
    dir_prefix = "sluice-compat-"

    def test_validate_warns_exits_0_and_strict_makes_it_an_error(self):
        cfg = self.write("kafka.properties", KAFKA_GROUP)
        r = run("validate", cfg)  # the file as the positional argument
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("agent 'a1' is valid", r.stdout)
        self.assertIn("warning: a1.sinks.k1.kafka.flumeBatchSize: unknown key for type 'kafka' "
                      "(did you mean 'flumeBatchSize'?) (" + cfg + ":11); Flume ignores an "
                      "unknown key too, so it is ignored (--strict makes this an error); `sluice "
                      "describe kafka` lists its keys", r.stderr)
        self.assertIn("warning: a1.sinkgroups.g1.processor.selector.maxTimeout: unknown key for "
                      "the round_robin selector (it has only selector.maxTimeOut) (did you mean "
                      "'selector.maxTimeOut'?) (" + cfg + ":18); Flume ignores", r.stderr)
        # Not handed to librdkafka as a producer property: no librdkafka complaint about it.
        self.assertNotIn("flumeBatchSize\" (", r.stderr)
        self.assertNotIn("error:", r.stderr)

        r = run("validate", "--strict", "-f", cfg)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sinks.k1.kafka.flumeBatchSize: unknown key for type 'kafka' "
                      "(did you mean 'flumeBatchSize'?) (" + cfg + ":11)", r.stderr)
        self.assertIn("error: a1.sinkgroups.g1.processor.selector.maxTimeout: unknown key",
                      r.stderr)
        self.assertIn("2 error(s); nothing was started", r.stderr)

    def test_an_unknown_agent_section_warns_and_strict_makes_it_an_error(self):
        cfg = self.write("sections.properties", KAFKA_GROUP + "a1.sourcse.r9.type = seq\n")
        r = run("validate", cfg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: a1.sourcse.r9.type: unknown section 'sourcse' under agent a1 is "
                      "ignored; did you mean 'sources'?; Flume ignores it too (--strict makes "
                      "this an error)", r.stderr)
        r = run("validate", "--strict", "-f", cfg)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sourcse.r9.type: unknown section 'sourcse' under agent a1; did "
                      "you mean 'sources'?", r.stderr)

    def test_toml_stays_strict(self):
        cfg = self.write("a.toml", """
[a1.sources.r1]
type = "seq"
channels = ["c1"]
totalEvnets = 3
[a1.channels.c1]
type = "memory"
[a1.sinks.k1]
type = "null"
channel = "c1"
""")
        r = run("validate", cfg)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sources.r1.totalEvnets: unknown key for type 'seq' (did you "
                      "mean 'totalEvents'?) (" + cfg + ":5)", r.stderr)

    def test_agent_starts_and_delivers_with_an_unknown_key_strict_refuses(self):
        out = os.path.join(self.dir, "out")
        os.mkdir(out)
        cfg = self.write("a.properties", SEQ_FILE_ROLL.format(
            n=500, out=out, extra="a1.sinks.k1.sink.rollIntervall = 30\n"))
        agent = self.start_agent(cfg)
        self.assertTrue(wait_until(lambda: lines_in(out) == 500, 60), agent.text()[-3000:])
        warning = ("a1.sinks.k1.sink.rollIntervall: unknown key for type 'file_roll' (did you "
                   "mean 'sink.rollInterval'?) (" + cfg + ":12); Flume ignores an unknown key too")
        self.assertEqual(agent.text().count(warning), 1, agent.text()[-3000:])
        agent.stop()

        r = run("agent", "-n", "a1", "-f", cfg, "--no-reload-conf", "--strict")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sinks.k1.sink.rollIntervall: unknown key", r.stderr)
        self.assertIn("nothing was started", r.stderr)

    def test_flume_ng_passes_strict_through(self):
        out = os.path.join(self.dir, "out")
        os.mkdir(out)
        cfg = self.write("a.properties", SEQ_FILE_ROLL.format(n=5, out=out,
                                                              extra="a1.sinks.k1.bogus = 1\n"))
        r = subprocess.run([FLUME_NG, "agent", "-n", "a1", "-f", cfg, "--no-reload-conf",
                            "--strict"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sinks.k1.bogus: unknown key for type 'file_roll'", r.stderr)

    def test_reload_warns_and_applies_or_under_strict_is_refused(self):
        out_a, out_b = os.path.join(self.dir, "a"), os.path.join(self.dir, "b")
        os.mkdir(out_a)
        os.mkdir(out_b)
        cfg = self.write("live.properties", PACED_FILE_ROLL.format(n=10**6, out=out_a, extra=""))
        agent = self.start_agent(cfg, reload=True)
        self.assertTrue(wait_until(lambda: lines_in(out_a) >= 100, 60), agent.text()[-3000:])
        tmp = cfg + ".tmp"
        with open(tmp, "w") as f:
            f.write(PACED_FILE_ROLL.format(n=10**6, out=out_b, extra="a1.sinks.k1.bogusKey = 1\n"))
        os.rename(tmp, cfg)
        agent.wait_for("configuration reloaded", 60)
        self.assertIn("a1.sinks.k1.bogusKey: unknown key for type 'file_roll'", agent.text())
        self.assertIn("Flume ignores an unknown key too", agent.text())
        self.assertTrue(wait_until(lambda: lines_in(out_b) >= 100, 60), agent.text()[-3000:])
        agent.stop()

        # --strict: the same edit is refused and the running configuration kept.
        cfg2 = self.write("strict.properties", PACED_FILE_ROLL.format(n=10**6, out=out_a, extra=""))
        strict = self.start_agent(cfg2, reload=True, log_name="strict.log",
                                  extra_args=["--strict"])
        with open(tmp, "w") as f:
            f.write(PACED_FILE_ROLL.format(n=10**6, out=out_b, extra="a1.sinks.k1.bogusKey = 1\n"))
        os.rename(tmp, cfg2)
        strict.wait_for("reload refused", 60)
        self.assertIn("a1.sinks.k1.bogusKey: unknown key", strict.text())
        n = lines_in(out_a)
        self.assertTrue(wait_until(lambda: lines_in(out_a) > n + 50, 60), "flow stopped")
        self.assertTrue(strict.alive())
        strict.stop()


# Two file_roll sinks whose directories come from an env and an external filter; the source's
# event count from ${SLUICE_T_EVENTS} (EnvVarResolverProperties).
FILTERED = """a1.configfilters = f1 f2
a1.configfilters.f1.type = env
a1.configfilters.f2.type = org.apache.flume.configfilter.ExternalProcessConfigFilter
a1.configfilters.f2.command = {script}
a1.configfilters.f2.charset = UTF-8
a1.sources = r1
a1.channels = c1 c2
a1.sinks = k1 k2
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = ${{SLUICE_T_EVENTS}}
a1.sources.r1.channels = c1 c2
a1.channels.c1.type = memory
a1.channels.c2.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = ${{f1['SLUICE_T_DIR_A']}}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k2.type = file_roll
a1.sinks.k2.channel = c2
a1.sinks.k2.sink.directory = ${{f2["roll_dir"]}}
a1.sinks.k2.sink.rollInterval = 0
"""


class ConfigFiltersTest(AgentTestCase):
    dir_prefix = "sluice-filters-"

    def setUp(self):
        super().setUp()
        self.out_a = os.path.join(self.dir, "env-secret-dir")
        self.out_b = os.path.join(self.dir, "ext-secret-dir")
        os.mkdir(self.out_a)
        os.mkdir(self.out_b)
        # The external filter: a real script, run with the key as its argument.
        self.script = os.path.join(self.dir, "secret-store.sh")
        with open(self.script, "w") as f:
            f.write('#!/bin/sh\ncase "$1" in\n  roll_dir) echo "%s" ;;\n'
                    '  *) echo "unknown key $1" >&2; exit 4 ;;\nesac\n' % self.out_b)
        os.chmod(self.script, 0o755)
        self.env = dict(os.environ, SLUICE_T_DIR_A=self.out_a, SLUICE_T_EVENTS="300")

    def write(self, text):
        path = os.path.join(self.dir, "filters.properties")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_filter_values_reach_the_components_and_stay_secret(self):
        cfg = self.write(FILTERED.format(script=self.script))
        agent = self.start_agent(cfg, env=self.env, extra_args=[
            "-DpropertiesImplementation=org.apache.flume.node.EnvVarResolverProperties",
            "--monitor-port", "0", "--log-level", "debug"])
        self.assertTrue(wait_until(lambda: lines_in(self.out_a) == 300 and
                                   lines_in(self.out_b) == 300, 60), agent.text()[-3000:])
        port = agent.monitor_port()
        with urllib.request.urlopen("http://127.0.0.1:%d/config" % port, timeout=10) as r:
            config = r.read().decode()
        self.assertIn("a1.sinks.k1.sink.directory", config)
        agent.stop()
        for secret in (self.out_a, self.out_b):
            self.assertNotIn(secret, agent.text())
            self.assertNotIn(secret, config)
        self.assertIn("******", config)

    def test_a_failing_external_filter_is_a_config_error_and_flume_ng_substitutes(self):
        cfg = self.write(FILTERED.format(script=self.script).replace('["roll_dir"]', "['nope']"))
        r = run("validate", cfg, env=self.env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: a1.sinks.k2.sink.directory: config filter 'f2' (external, command '"
                      + self.script + "') for key 'nope': the command exited with status 4 "
                      "(stderr: unknown key nope) (" + cfg + ":20)", r.stderr)
        # Through flume-ng, with the -D switch in JAVA_OPTS of flume-env.sh as installs do it.
        good = self.write(FILTERED.format(script=self.script))
        conf_dir = os.path.join(self.dir, "conf")
        os.mkdir(conf_dir)
        with open(os.path.join(conf_dir, "flume-env.sh"), "w") as f:
            f.write('JAVA_OPTS="-Xmx1g -DpropertiesImplementation='
                    'org.apache.flume.node.EnvVarResolverProperties"\n')
        r = subprocess.run(["/bin/bash", FLUME_NG, "agent", "-n", "a1", "-c", conf_dir, "-f", good,
                            "--dryrun"], capture_output=True, text=True, env=self.env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("-DpropertiesImplementation=org.apache.flume.node.EnvVarResolverProperties",
                      r.stdout)

    def test_reload_reruns_the_filters(self):
        cfg = self.write(FILTERED.format(script=self.script).replace(
            "${SLUICE_T_EVENTS}", "1000000000").replace(
            "a1.sources.r1.type = seq", "a1.sources.r1.type = test.header_seq\n"
            "a1.sources.r1.batchSize = 10\na1.sources.r1.sleepMs = 5"))
        agent = self.start_agent(cfg, env=self.env, reload=True)
        self.assertTrue(wait_until(lambda: lines_in(self.out_b) >= 50, 60), agent.text()[-3000:])
        # The secret store now answers another directory: an edit of the file re-runs the filter.
        out_c = os.path.join(self.dir, "rotated-dir")
        os.mkdir(out_c)
        with open(self.script, "w") as f:
            f.write('#!/bin/sh\necho "%s"\n' % out_c)
        with open(cfg, "a") as f:
            f.write("a1.sinks.k2.sink.batchSize = 50\n")
        agent.wait_for("configuration reloaded", 60)
        self.assertTrue(wait_until(lambda: lines_in(out_c) >= 50, 60), agent.text()[-3000:])
        self.assertNotIn(out_c, agent.text())
        agent.stop()


if __name__ == "__main__":
    unittest.main()
