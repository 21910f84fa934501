#!/usr/bin/env python3
"""Starts every example config in conf/ (TOML and Flume .properties alike), feeds it, and checks
what comes out. Ports and output directories are redirected with -D overrides, the way a user
would adapt an example without editing it: listeners get port 0 (a free one, read from the log)."""

import glob
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.environ["SLUICE_SOURCE_ROOT"], "tests", "support"))
from sluice_test import BIN, CONF_DIR as CONF, lines_in, wait_until  # noqa: E402
from sluice_test import Agent, send_lines as send  # noqa: E402
from kafka_test import MockKafka, kcat_consume, kcat_produce  # noqa: E402
from sql_servers import MariaDB, Postgres  # noqa: E402


class ExamplesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sluice-examples-")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def start(self, name, fmt, sinks_dirs=(), netcat=True, overrides=None):
        conf = os.path.join(CONF, f"{name}.{fmt}")
        overrides = dict(overrides or {})
        if netcat:
            overrides["a1.sources.r1.port"] = "0"
        dirs = {}
        for sink in sinks_dirs:
            d = os.path.join(self.dir, sink)
            overrides[f"a1.sinks.{sink}.sink.directory"] = d
            dirs[sink] = d
        agent = Agent(conf, self.dir, overrides)
        self.addCleanup(agent.stop)
        agent.wait_started()
        self.port = agent.port_of("r1") if netcat else None
        return agent, dirs

    def test_every_example_exists_in_both_formats(self):
        names = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(CONF + "/*.*")}
        for n in names:
            self.assertTrue(os.path.exists(f"{CONF}/{n}.toml"), n)
            self.assertTrue(os.path.exists(f"{CONF}/{n}.properties"), n)
        for n in ["seq-logger", "netcat-logger", "netcat-file_roll", "replicating", "multiplexing",
                  "failover", "load_balance", "taildir-file-hdfs", "spooldir-hdfs",
                  "exec-file_roll", "avro-tiers", "netcat-kafka", "kafka-file_roll",
                  "sql-file-hdfs", "sql-kafka", "syslog-hdfs",
                  "thrift-tiers"]:
            self.assertIn(n, names)
        # Every example validates (and so does the second agent of the two-tier one).
        for p in glob.glob(CONF + "/*.*"):
            r = subprocess.run([BIN, "validate", "-n", "a1", "-f", p], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, p + ":\n" + r.stderr)
        for p in glob.glob(CONF + "/avro-tiers.*") + glob.glob(CONF + "/thrift-tiers.*"):
            r = subprocess.run([BIN, "validate", "-n", "a2", "-f", p], capture_output=True, text=True)
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

    def hdfs_lines(self, root):
        """Lines of every closed file under root, gunzipping .gz files."""
        import gzip
        out = []
        for path in sorted(glob.glob(os.path.join(root, "**", "*"), recursive=True)):
            if not os.path.isfile(path) or path.endswith(".tmp"):
                continue
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                out.extend(f.read().decode().splitlines())
        return out

    def test_taildir_file_hdfs(self):
        def check(fmt):
            logs, out = os.path.join(self.dir, "logs"), os.path.join(self.dir, "out")
            os.makedirs(logs)
            with open(os.path.join(logs, "app.log"), "w") as f:
                f.write("".join(f"before {i}\n" for i in range(300)))
            agent, _ = self.start("taildir-file-hdfs", fmt, netcat=False, overrides={
                "a1.sources.r1.filegroups.g1": logs + "/.*\\.log",
                "a1.sources.r1.positionFile": os.path.join(self.dir, "pos.json"),
                "a1.channels.c1.checkpointDir": os.path.join(self.dir, "cp"),
                "a1.channels.c1.dataDirs": os.path.join(self.dir, "data"),
                "a1.sinks.k1.hdfs.path": out + "/%Y%m%d/%H",
            })
            with open(os.path.join(logs, "app.log"), "a") as f:
                f.write("".join(f"after {i}\n" for i in range(300)))
            # The hdfs sink keeps its file open (in-use, .tmp) until it rolls; stopping closes
            # and renames it, so wait for every line to be written first.
            self.assertTrue(wait_until(lambda: self.count_written(out) >= 600, 30), agent.text())
            self.assertEqual(agent.stop(), 0)
            want = [f"before {i}" for i in range(300)] + [f"after {i}" for i in range(300)]
            self.assertEqual(self.hdfs_lines(out), want)
            # One directory per hour, named by the local time: %Y%m%d/%H.
            for d in glob.glob(out + "/*/*"):
                self.assertRegex(os.path.relpath(d, out), r"^\d{8}/\d{2}$")
        self.each_format(check)

    def count_written(self, root):
        """Lines written under root so far, in-use files included (uncompressed output only)."""
        n = 0
        for path in glob.glob(os.path.join(root, "**", "*"), recursive=True):
            if os.path.isfile(path) and not path.endswith(".gz"):
                with open(path, "rb") as f:
                    n += f.read().count(b"\n")
        return n

    def test_syslog_hdfs(self):
        import socket
        host = socket.gethostname()

        def check(fmt):
            out = os.path.join(self.dir, "out")
            agent, _ = self.start("syslog-hdfs", fmt, overrides={
                "a1.sources.r2.port": "0",
                "a1.channels.c1.checkpointDir": os.path.join(self.dir, "cp"),
                "a1.channels.c1.dataDirs": os.path.join(self.dir, "data"),
                "a1.sinks.k1.hdfs.path": out + "/%Y-%m-%d/%{host}",
            })
            udp = agent.port_of("r2")
            # util-linux logger: RFC 5424 over TCP with octet counting, RFC 3164 over UDP.
            subprocess.run(["logger", "--tcp", "--octet-count", "-n", "127.0.0.1", "-P",
                            str(self.port), "--rfc5424", "-t", "app"], check=True, timeout=60,
                           input="".join(f"tcp line {i}\n" for i in range(300)).encode())
            subprocess.run(["logger", "--udp", "-n", "127.0.0.1", "-P", str(udp), "--rfc3164",
                            "-t", "bsd"], check=True, timeout=60,
                           input="".join(f"udp line {i}\n" for i in range(100)).encode())
            self.assertTrue(wait_until(lambda: self.count_written(out) >= 400, 30), agent.text())
            self.assertEqual(agent.stop(), 0)
            got = self.hdfs_lines(out)
            # Bodies as Flume writes them: the message after the host name ("app - - [...] tcp
            # line 7", "bsd: udp line 7"); each line once.
            self.assertEqual(sorted(" ".join(line.split()[-3:]) for line in got),
                             sorted([f"tcp line {i}" for i in range(300)]
                                    + [f"udp line {i}" for i in range(100)]))
            # One directory per day and sending host (the syslog host header).
            dirs = {os.path.relpath(d, out) for d in glob.glob(out + "/*/*")}
            self.assertTrue(dirs)
            for d in dirs:
                self.assertRegex(d, r"^\d{4}-\d{2}-\d{2}/" + host + "$")
        self.each_format(check)

    def test_spooldir_hdfs(self):
        def check(fmt):
            spool, out = os.path.join(self.dir, "spool"), os.path.join(self.dir, "out")
            os.makedirs(spool)
            agent, _ = self.start("spooldir-hdfs", fmt, netcat=False, overrides={
                "a1.sources.r1.spoolDir": spool,
                "a1.sinks.k1.hdfs.path": out + "/%Y-%m-%d/%H%M",
            })
            for n in range(3):
                tmp = os.path.join(self.dir, f"f{n}.txt")
                with open(tmp, "w") as f:
                    f.write("".join(f"file{n} line {i}\n" for i in range(200)))
                os.rename(tmp, os.path.join(spool, f"f{n}.txt"))  # complete files only
            self.assertTrue(wait_until(lambda: len(glob.glob(spool + "/*.COMPLETED")) == 3, 30),
                            agent.text())
            self.assertEqual(agent.stop(), 0)
            got = self.hdfs_lines(out)
            self.assertEqual(sorted(got), sorted(f"file{n} line {i}" for n in range(3)
                                                 for i in range(200)))
            # Buckets of 10 minutes: the minute part of every directory ends in 0.
            dirs = [os.path.relpath(d, out) for d in glob.glob(out + "/*/*")]
            self.assertTrue(dirs)
            for d in dirs:
                self.assertRegex(d, r"^\d{4}-\d{2}-\d{2}/\d{2}[0-5]0$")
        self.each_format(check)

    def test_avro_tiers(self):
        """Two agents from one file: a2 (avro -> file_roll) first, then a1 (netcat -> avro)."""
        self.each_format(lambda fmt: self.check_tiers("avro-tiers", fmt))

    def test_thrift_tiers(self):
        """The same over Thrift: a2 (thrift -> file_roll), then a1 (netcat -> thrift)."""
        self.each_format(lambda fmt: self.check_tiers("thrift-tiers", fmt))

    def check_tiers(self, name, fmt):
        """Starts a2 (port 0), then a1 sending to it; 1000 lines through netcat arrive once, in
        order, in a2's files."""
        conf = os.path.join(CONF, f"{name}.{fmt}")
        out = os.path.join(self.dir, "out")
        tier2 = Agent(conf, self.dir, {"a2.sources.r1.port": "0",
                                       "a2.sinks.k1.sink.directory": out},
                      name="a2", log_name="a2.log")
        self.addCleanup(tier2.stop)
        tier2.wait_started()
        aport = tier2.port_of("r1")  # tier 1's sink needs it: tier 2 starts first
        tier1 = Agent(conf, self.dir, {"a1.sources.r1.port": "0",
                                       "a1.sinks.k1.port": str(aport)},
                      name="a1", log_name="a1.log")
        self.addCleanup(tier1.stop)
        tier1.wait_started()
        nport = tier1.port_of("r1")
        sent = [f"tiered {i}" for i in range(1000)]
        self.assertEqual(send(nport, sent, read_acks=True), ["OK"] * len(sent))
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(sent)),
                        tier1.text() + tier2.text())
        self.assertEqual(tier1.stop(), 0)
        self.assertEqual(tier2.stop(), 0)
        self.assertEqual(lines_in(out), sent)

    def test_exec_file_roll(self):
        def check(fmt):
            log = os.path.join(self.dir, "app.log")
            open(log, "w").close()
            agent, dirs = self.start("exec-file_roll", fmt, ["k1"], netcat=False, overrides={
                # From the first line: tail -F alone starts at the last 10 lines, and the agent
                # may start tail after the test has written.
                "a1.sources.r1.command": f"tail -n +1 -F {log}",
            })
            sent = [f"exec line {i}" for i in range(500)]
            with open(log, "a") as f:
                f.write("".join(l + "\n" for l in sent))
            self.assertTrue(wait_until(lambda: len(lines_in(dirs["k1"])) >= 500, 30), agent.text())
            self.assertEqual(agent.stop(), 0)
            self.assertEqual(lines_in(dirs["k1"]), sent)
        self.each_format(check)

    # The Kafka examples run against librdkafka's mock cluster (tests/support/kafka_mock.cpp);
    # only the broker list is redirected.
    def test_netcat_kafka(self):
        def check(fmt):
            with MockKafka(["weblogs:4"]) as k:
                agent, _ = self.start("netcat-kafka", fmt, overrides={
                    "a1.sinks.k1.kafka.bootstrap.servers": k.bootstrap})
                sent = [f"kafka line {i}" for i in range(500)]
                self.assertEqual(send(self.port, sent, read_acks=True), ["OK"] * 500)
                got = kcat_consume(k.bootstrap, "weblogs", 500, timeout=30)
                self.assertEqual(sorted(got), sorted(sent), agent.text()[-3000:])
                self.assertEqual(agent.stop(), 0)
        self.each_format(check)

    def test_kafka_file_roll(self):
        def check(fmt):
            with MockKafka(["weblogs:4"]) as k:
                sent = [f"from kafka {i}" for i in range(500)]
                kcat_produce(k.bootstrap, "weblogs", sent)
                agent, dirs = self.start("kafka-file_roll", fmt, ["k1"], netcat=False, overrides={
                    "a1.sources.r1.kafka.bootstrap.servers": k.bootstrap,
                    # PLATFORM.md's group timeouts, so a test run never waits on a dead member.
                    "a1.sources.r1.kafka.consumer.session.timeout.ms": "6000",
                    "a1.sources.r1.kafka.consumer.max.poll.interval.ms": "10000"})
                self.assertTrue(wait_until(lambda: len(lines_in(dirs["k1"])) >= 500, 30),
                                agent.text()[-3000:])
                self.assertEqual(agent.stop(), 0)
                self.assertEqual(sorted(lines_in(dirs["k1"])), sorted(sent))
        self.each_format(check)

    # The SQL examples read a table of a real server (tests/support/sql_servers.py); the URL,
    # user, password file and state directories are redirected.
    def sql_overrides(self, server, url_key, user_key):
        pw = os.path.join(self.dir, "password")
        with open(pw, "w") as f:
            f.write(server.password + "\n")
        return {f"a1.sources.r1.{url_key}": server.url, f"a1.sources.r1.{user_key}": server.user,
                "a1.sources.r1.connection.password.file": pw,
                "a1.sources.r1.status.file.path": os.path.join(self.dir, "status"),
                "a1.channels.c1.checkpointDir": os.path.join(self.dir, "cp"),
                "a1.channels.c1.dataDirs": os.path.join(self.dir, "data")}

    def test_sql_file_hdfs(self):
        with MariaDB() as db:
            db.sql("CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), "
                   "total DECIMAL(10,2)); INSERT INTO orders SELECT seq, CONCAT('c', seq), "
                   "seq / 100 FROM seq_1_to_500")

            def check(fmt):
                out = os.path.join(self.dir, "out")
                overrides = self.sql_overrides(db, "hibernate.connection.url",
                                               "hibernate.connection.user")
                overrides["a1.sinks.k1.hdfs.path"] = out + "/%Y%m%d/%H"
                agent, _ = self.start("sql-file-hdfs", fmt, netcat=False, overrides=overrides)
                self.assertTrue(wait_until(lambda: self.count_written(out) >= 500, 30),
                                agent.text()[-3000:])
                self.assertEqual(agent.stop(), 0)
                want = [f'"{i}","c{i}","{i // 100}.{i % 100:02d}"' for i in range(1, 501)]
                self.assertEqual(self.hdfs_lines(out), want)
            self.each_format(check)

    def test_sql_kafka(self):
        with Postgres() as db, MockKafka(["db-events-toml:2", "db-events-properties:2"]) as k:
            db.sql("CREATE TABLE events (id INT PRIMARY KEY, created_at TIMESTAMP NOT NULL, "
                   "kind TEXT); ALTER TABLE events OWNER TO app; INSERT INTO events SELECT g, "
                   "TIMESTAMP '2024-05-01' + (g / 10) * INTERVAL '1 minute', 'kind-' || (g % 3) "
                   "FROM generate_series(1, 300) g")

            def check(fmt):
                topic = f"db-events-{fmt}"
                overrides = self.sql_overrides(db, "connection.url", "connection.user")
                overrides["a1.sinks.k1.kafka.bootstrap.servers"] = k.bootstrap
                overrides["a1.sinks.k1.kafka.topic"] = topic
                agent, _ = self.start("sql-kafka", fmt, netcat=False, overrides=overrides)
                got = kcat_consume(k.bootstrap, topic, 300, timeout=30)
                self.assertEqual(agent.stop(), 0)
                want = [json.dumps({"id": g, "created_at": f"2024-05-01 00:{g // 10:02d}:00",
                                    "kind": f"kind-{g % 3}"}, separators=(",", ":"))
                        for g in range(1, 301)]
                self.assertEqual(sorted(got), sorted(want), agent.text()[-3000:])
            self.each_format(check)


if __name__ == "__main__":
    unittest.main(verbosity=2)
