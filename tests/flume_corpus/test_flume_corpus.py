#!/usr/bin/env python3
"""The Flume drop-in promise, checked on configs written the way Flume users write them: each
file in tests/flume_corpus/ follows an example of Flume's user guide or a common tutorial, and is
started with `flume-ng agent -n NAME -c CONF -f FILE -Dflume.root.logger=INFO,console`, as a Flume
user starts it. Only what must differ on a test machine is rewritten, by text substitution: the
port numbers (every source listens on a port the system picks, read from its "listening on" log
line, and a sink pointing at another agent's source gets that port), the paths (under a temporary directory; hdfs://namenode/ becomes a local file:// directory), the
Kafka bootstrap servers (librdkafka's mock cluster) and one remote host name (127.0.0.1). Each
test then feeds the agent with a real client (a socket, `logger`, curl-like HTTP, flume-ng
avro-client, kcat, files) and checks what comes out at the far end.

A chain's agents start last tier first, each localised once the ports of the agents it sends to
are known. A sink port that no agent of the file listens on (the failover example's collector,
down on purpose) becomes a port picked free, where nothing listens."""

import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.environ["SLUICE_SOURCE_ROOT"], "tests", "support"))
from sluice_test import (BIN, SOURCE_ROOT, SOURCE_LISTENING, Agent, free_port,  # noqa: E402
                         send_lines, wait_until)
from kafka_test import MockKafka, kcat_consume, kcat_produce  # noqa: E402

CORPUS = os.path.join(SOURCE_ROOT, "tests", "flume_corpus")
FLUME_NG = os.path.join(os.path.dirname(os.path.abspath(BIN)), "flume-ng")
# <agent>.sources.<source>.port(s) = N [N...], and <agent>.sinks.<sink>.port = N.
SOURCE_PORT_KEY = re.compile(r"^(\s*(?P<agent>[^.\s]+)\.sources\.(?P<source>[^.\s]+)\.ports?"
                             r"\s*=\s*)(?P<value>.+)$", re.M)
SINK_PORT_KEY = re.compile(r"^(\s*[^.\s]+\.sinks\.[^.\s]+\.port\s*=\s*)(\d+)\s*$", re.M)
LOCAL_PATH = re.compile(r"(?<=[\s=])/(var/log|mnt/flume|flume)/")


def all_lines(directory):
    """Every line of every regular file under directory (recursively), files in path order."""
    out = []
    for root, _, files in sorted(os.walk(directory)):
        for name in sorted(files):
            with open(os.path.join(root, name), "rb") as f:
                out.extend(f.read().decode("utf-8", "replace").splitlines())
    return out


def open_by_child(pid, path):
    """Whether a child process of pid (the exec source's command) has path open. Children are
    listed per thread: the source starts its command from a thread of its own."""
    children = []
    for children_file in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(children_file) as f:
                children += f.read().split()
        except OSError:
            pass
    for child in children:
        try:
            fds = os.listdir(f"/proc/{child}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{child}/fd/{fd}") == path:
                    return True
            except OSError:
                pass
    return False


def post_json(port, events):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(events).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


class FlumeNg(Agent):
    """`flume-ng agent` for agent `name` of a localised config, its output in workdir/NAME.log;
    the rest (text, wait_for, stop...) is sluice_test.Agent's."""

    def __init__(self, conf, name, workdir, monitor_port=None):  # pylint: disable=super-init-not-called
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.log = open(self.log_path, "w")
        args = [FLUME_NG, "agent", "-n", name, "-c", workdir, "-f", conf,
                "-Dflume.root.logger=INFO,console"]
        if monitor_port is not None:
            args += ["-Dflume.monitoring.type=http", f"-Dflume.monitoring.port={monitor_port}"]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)


class FlumeCorpusTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-flume-corpus-")
        self.agents = []
        self.ports = {}

    def tearDown(self):
        for a in self.agents:
            a.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- localising and starting ---------------------------------------------------------------
    def port(self, original):
        """The port standing in for a port number of the config: the one a started agent's
        source logged for it, else (a sink's port that nothing listens on) a free one."""
        if original not in self.ports:
            self.ports[original] = free_port()
        return self.ports[original]

    def localise(self, name, bootstrap=None, agent=""):
        with open(os.path.join(CORPUS, name)) as f:
            text = f.read()
        text = SOURCE_PORT_KEY.sub(lambda m: m.group(1) + re.sub(r"\d+", "0", m.group("value")),
                                   text)
        text = SINK_PORT_KEY.sub(lambda m: m.group(1) + str(self.port(int(m.group(2)))), text)
        text = text.replace("hdfs://namenode/", f"file://{self.dir}/hdfs/")
        text = LOCAL_PATH.sub(lambda m: f"{self.dir}/{m.group(1)}/", text)
        text = text.replace("collector.example.com", "127.0.0.1")
        if bootstrap:
            text = text.replace("localhost:9092", bootstrap)
        path = os.path.join(self.dir, f"{agent}-{name}" if agent else name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self, name, agents=("a1",), bootstrap=None, monitor_port=None, dirs=()):
        for d in dirs:  # directories a Flume user creates before starting the agent
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        with open(os.path.join(CORPUS, name)) as f:
            listens = [(m.group("agent"), m.group("source"), [int(p) for p in
                                                               m.group("value").split()])
                       for m in SOURCE_PORT_KEY.finditer(f.read())]
        started = []
        for agent in reversed(agents):  # the last tier first: its ports go into the others' sinks
            conf = self.localise(name, bootstrap, agent)
            a = FlumeNg(conf, agent, self.dir, monitor_port)
            self.agents.append(a)
            a.wait_for("started:")
            for source, originals in ((s, o) for g, s, o in listens if g == agent):
                self.assertTrue(wait_until(lambda: len(self.logged_ports(a, source))
                                           >= len(originals)), a.text()[-3000:])
                self.ports.update(zip(originals, self.logged_ports(a, source)))
            started.insert(0, a)
        return started

    @staticmethod
    def logged_ports(agent, source):
        """The ports source logged "listening on" for, in the order of its port key."""
        return [int(m.group("port")) for m in SOURCE_LISTENING.finditer(agent.text())
                if m.group("name") == source]

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def wait_lines(self, directory, want, timeout=30.0):
        got = wait_until(lambda: len(all_lines(directory)) >= want and all_lines(directory),
                         timeout)
        return got or all_lines(directory)

    # ---- the corpus ----------------------------------------------------------------------------
    def test_every_config_validates(self):
        """Every corpus file, localised, passes `sluice validate` for each of its agents."""
        agents = {"02-avro-hdfs.properties": ["agent_foo"],
                  "03-three-agent-chain.properties": ["a1", "a2", "a3"],
                  "17-kafka-source-sink.properties": ["tier1"]}
        names = sorted(os.path.basename(p) for p in glob.glob(CORPUS + "/*.properties"))
        self.assertGreaterEqual(len(names), 15)
        for name in names:
            conf = self.localise(name, "127.0.0.1:9")
            for agent in agents.get(name, ["a1"]):
                r = subprocess.run([BIN, "validate", "-n", agent, "-f", conf],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 0, f"{name} -n {agent}:\n{r.stderr}")

    def test_01_netcat_logger(self):
        (a,) = self.start("01-netcat-logger.properties")
        replies = send_lines(self.port(44444), ["Hello world!"] * 3, read_acks=True)
        self.assertEqual(replies, ["OK"] * 3)
        a.wait_for("Event: { headers:{} body: 48 65 6C 6C 6F 20 77 6F 72 6C 64 21")
        self.assertTrue(wait_until(lambda: a.text().count("Hello world!") == 3))

    def test_02_avro_client_to_hdfs(self):
        self.start("02-avro-hdfs.properties", agents=("agent_foo",))
        data = self.path("log.10")
        with open(data, "w") as f:
            f.writelines(f"GET /page/{i} 200\n" for i in range(200))
        r = subprocess.run([FLUME_NG, "avro-client", "-H", "localhost", "-p",
                            str(self.port(10000)), "-F", data],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = self.wait_lines(self.path("hdfs", "flume", "webdata"), 200)
        self.assertEqual(sorted(got), sorted(f"GET /page/{i} 200" for i in range(200)))

    def test_03_three_agent_avro_chain(self):
        a1, _, a3 = self.start("03-three-agent-chain.properties", agents=("a1", "a2", "a3"))
        lines = [f"hop {i}" for i in range(50)]
        self.assertEqual(send_lines(self.port(44444), lines, read_acks=True), ["OK"] * 50)
        self.assertTrue(wait_until(lambda: a3.text().count("Event: {") >= 50), a3.text()[-3000:])
        for line in lines:
            self.assertIn(line + " }", a3.text())
        self.assertEqual(a1.text().count("Event: {"), 0)  # a1 logs nothing: it forwards

    def test_04_replicating_with_optional_channel(self):
        self.start("04-replicating.properties")
        lines = [f"copy {i}" for i in range(50)]
        send_lines(self.port(44444), lines, read_acks=True)
        for k in ("k1", "k2", "k3"):
            self.assertEqual(self.wait_lines(self.path("var", "log", "flume", k), 50), lines, k)

    def test_05_multiplexing_by_header(self):
        self.start("05-multiplexing.properties",
                   dirs=[f"var/log/flume/{k}" for k in ("k1", "k2", "k3", "k4")])
        events = [{"headers": {"state": s}, "body": f"{s} {i}"}
                  for i, s in enumerate(["CZ", "US", "DE", "CZ", "US", "FR"])]
        self.assertEqual(post_json(self.port(5140), events), 200)
        want = {"k1": ["CZ 0", "CZ 3"], "k2": ["US 1", "US 4"], "k3": ["US 1", "US 4"],
                "k4": ["DE 2", "FR 5"]}
        for k, lines in want.items():
            self.assertEqual(self.wait_lines(self.path("var", "log", "flume", k), 2), lines, k)

    def test_06_failover_while_the_collector_is_down(self):
        a, = self.start("06-failover.properties")
        lines = [f"kept {i}" for i in range(300)]
        send_lines(self.port(44444), lines, read_acks=True)
        self.assertEqual(sorted(self.wait_lines(self.path("var", "log", "flume", "k1"), 300)),
                         sorted(lines))
        self.assertTrue(a.alive())

    def test_07_load_balance_round_robin(self):
        self.start("07-load-balance.properties")
        lines = [f"spread {i}" for i in range(200)]
        send_lines(self.port(44444), lines, read_acks=True)
        k1, k2 = self.path("var", "log", "flume", "k1"), self.path("var", "log", "flume", "k2")
        self.assertTrue(wait_until(lambda: len(all_lines(k1)) + len(all_lines(k2)) >= 200))
        self.assertEqual(sorted(all_lines(k1) + all_lines(k2)), sorted(lines))
        self.assertTrue(all_lines(k1) and all_lines(k2), "round robin used both sinks")

    def test_08_spooldir_through_a_file_channel(self):
        spool = self.path("var", "log", "apache", "flumeSpool")
        os.makedirs(spool)
        self.start("08-spooldir-file-channel.properties", dirs=["mnt/flume"])
        src = os.path.join(spool, "access.log")
        with open(self.path("staging.log"), "w") as f:
            f.writelines(f"line {i}\n" for i in range(100))
        os.rename(self.path("staging.log"), src)  # files appear whole, as the source requires
        got = self.wait_lines(self.path("var", "log", "flume", "k1"), 100)
        self.assertEqual(got, [f"{{file={src}}} line {i}" for i in range(100)])
        self.assertTrue(wait_until(lambda: os.path.exists(src + ".COMPLETED")))

    def test_09_taildir_to_hdfs(self):
        for d in ("test1", "test2"):
            os.makedirs(self.path("var", "log", d))
        with open(self.path("var", "log", "test1", "example.log"), "w") as f:
            f.writelines(f"one {i}\n" for i in range(20))
        with open(self.path("var", "log", "test2", "app.log.1"), "w") as f:
            f.writelines(f"two {i}\n" for i in range(30))
        self.start("09-taildir-hdfs.properties", dirs=["var/log/flume"])
        out = self.path("flume", "events", time.strftime("%Y-%m-%d"))
        got = self.wait_lines(self.path("flume", "events"), 50)
        self.assertEqual(sorted(got), sorted([f"one {i}" for i in range(20)] +
                                             [f"two {i}" for i in range(30)]))
        self.assertTrue(glob.glob(out + "/events-*") or
                        glob.glob(self.path("flume", "events", "*", "events-*")))
        self.assertTrue(wait_until(lambda: os.path.exists(
            self.path("var", "log", "flume", "taildir_position.json"))))

    def test_10_exec_tail_to_file_roll(self):
        os.makedirs(self.path("var", "log"))
        secure = self.path("var", "log", "secure")
        open(secure, "w").close()
        (a,) = self.start("10-exec-file_roll.properties", dirs=["var/log/flume/k1"])
        # tail -F first prints the file's last 10 lines, then follows it. Having the file open
        # is not yet following it: lines appended before that first read are cut to the last
        # 10 (seen under ASan). So one line first, and the rest once it came out: tail follows.
        self.assertTrue(wait_until(lambda: open_by_child(a.proc.pid, secure)),
                        "tail -F never opened the file")
        out = self.path("var", "log", "flume", "k1")
        with open(secure, "a") as f:
            f.write("sshd[-]: first\n")
        self.assertEqual(self.wait_lines(out, 1), ["sshd[-]: first"])
        lines = [f"sshd[{i}]: Accepted publickey" for i in range(40)]
        with open(secure, "a") as f:
            f.writelines(l + "\n" for l in lines)
        self.assertEqual(self.wait_lines(out, 41), ["sshd[-]: first"] + lines)

    def test_11_syslog_tcp_from_logger(self):
        (a,) = self.start("11-syslogtcp-logger.properties")
        subprocess.run(["logger", "--tcp", "-n", "127.0.0.1", "-P", str(self.port(5140)),
                        "-p", "local3.warning", "-t", "corpus", "--rfc3164", "disk almost full"],
                       check=True, timeout=30)
        # The logger sink shows the first 16 bytes of a body, as Flume's does (maxBytesToLog).
        a.wait_for("body: 63 6F 72 70 75 73")  # "corpus", the tag that starts the message
        line = [l for l in a.text().splitlines() if "body: 63 6F 72 70 75 73" in l][0]
        self.assertIn("Facility=19", line)
        self.assertIn("Severity=4", line)

    def test_12_multiport_syslog_port_header(self):
        self.start("12-multiport-syslog.properties", dirs=["var/log/flume/k1"])
        for original in (10001, 10002, 10003):
            subprocess.run(["logger", "--tcp", "-n", "127.0.0.1", "-P",
                            str(self.port(original)), "--rfc3164", f"via {original}"],
                           check=True, timeout=30)
        got = self.wait_lines(self.path("var", "log", "flume", "k1"), 3)
        self.assertEqual(len(got), 3, got)
        for original in (10001, 10002, 10003):
            line = [l for l in got if l.endswith(f"via {original}")]
            self.assertEqual(len(line), 1, got)
            self.assertIn(f"port={self.port(original)}", line[0])

    def test_13_syslog_udp_from_logger(self):
        self.start("13-syslogudp.properties", dirs=["var/log/flume/k1"])
        subprocess.run(["logger", "--udp", "-n", "127.0.0.1", "-P", str(self.port(5140)),
                        "-p", "auth.err", "--rfc3164", "login failed"], check=True, timeout=30)
        got = self.wait_lines(self.path("var", "log", "flume", "k1"), 1)
        self.assertEqual(len(got), 1, got)
        self.assertIn("Facility=4", got[0])
        self.assertIn("Severity=3", got[0])
        self.assertTrue(got[0].endswith("login failed"), got[0])

    def test_14_http_json_handler(self):
        (a,) = self.start("14-http-json.properties")
        self.assertIn("handler.nickname", a.text())  # the ignored key is named in a warning
        status = post_json(self.port(5140), [{"headers": {"a": "a1", "b": "b1"}, "body": "e1"},
                                             {"headers": {}, "body": "e2"}])
        self.assertEqual(status, 200)
        a.wait_for("headers:{a=a1, b=b1} body: 65 31")
        a.wait_for("headers:{} body: 65 32")

    def test_15_interceptors_drive_hdfs_escapes(self):
        (a,) = self.start("15-interceptors-hdfs.properties")
        self.assertIn("a1.sinks.k1.filePrefix", a.text())  # the guide's ignored key: a warning
        lines = [f"event {i}" for i in range(20)]
        send_lines(self.port(44444), lines, read_acks=True)
        base = self.path("hdfs", "flume", "events", "NEW_YORK")
        got = self.wait_lines(base, 20)
        self.assertEqual(got, lines)
        files = glob.glob(base + "/*/*/*")
        self.assertTrue(files, os.listdir(self.dir))
        rel = os.path.relpath(files[0], base).split(os.sep)
        self.assertRegex(rel[0], r"^\d\d-\d\d-\d\d$")  # %y-%m-%d
        self.assertRegex(rel[1], r"^\d\d\d0$")  # %H%M rounded down to 10 minutes
        self.assertTrue(rel[2].startswith("events-"), rel)

    def test_16_regex_filter_and_extractor(self):
        self.start("16-regex-interceptors.properties", dirs=["var/log/flume/k1"])
        send_lines(self.port(44444), ["DEBUG noise", "1:2:3.4foobar5", "no digits here"],
                   read_acks=True)
        got = self.wait_lines(self.path("var", "log", "flume", "k1"), 2)
        self.assertEqual(got, ["{one=1, two=2, three=3} 1:2:3.4foobar5", "{} no digits here"])

    def test_17_kafka_source_to_kafka_sink(self):
        with MockKafka(["test1:2", "test2:2", "mytopic:3"]) as kafka:
            (a,) = self.start("17-kafka-source-sink.properties", agents=("tier1",),
                              bootstrap=kafka.bootstrap)
            self.assertIn("kafka.flumeBatchSize", a.text())  # ignored, with a warning
            kcat_produce(kafka.bootstrap, "test1", [f"t1 {i}" for i in range(30)])
            kcat_produce(kafka.bootstrap, "test2", [f"t2 {i}" for i in range(20)])
            got = kcat_consume(kafka.bootstrap, "mytopic", 50, timeout=60)
            self.assertEqual(sorted(got), sorted([f"t1 {i}" for i in range(30)] +
                                                 [f"t2 {i}" for i in range(20)]))

    def test_18_seq_to_null_counted_in_metrics(self):
        (a,) = self.start("18-seq-null.properties", monitor_port=0)
        mport = a.monitor_port()

        def drained():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics", timeout=5) as r:
                    m = json.loads(r.read().decode())
            except OSError:
                return None
            return m.get("SINK.k1", {}).get("EventDrainSuccessCount") == "1000" and m
        m = wait_until(drained, 30)
        self.assertTrue(m, "SINK.k1 did not drain 1000 events")
        self.assertEqual(m["SOURCE.r1"]["EventAcceptedCount"], "1000")
        self.assertEqual(m["CHANNEL.c1"]["EventPutSuccessCount"], "1000")


if __name__ == "__main__":
    unittest.main(verbosity=2)
