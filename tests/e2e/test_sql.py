#!/usr/bin/env python3
"""End-to-end tests of the SQL source (type sql) with the real binary against real MariaDB and
PostgreSQL servers (tests/support/sql_servers.py, one of each for the whole module): an exact
import of 100,000 rows with rows inserted while the agent runs, kill -9 of the agent in the middle
of an import into a file channel (at a random moment, and exactly between the channel's commit
and the offset save) with the output equal to the table afterwards, the server killed and
restarted in the middle of an import, a lock wait timeout, TLS with the server's certificate verified by default, a wrong password, an
injection attempt rejected before anything starts, /ready and the metrics, secrets kept out of
every output. The C++ test plugins/source_sql/sql_source_test.cpp covers the
value formats, ties, custom queries and the offset table against the same servers."""

import json
import os
import random
import re
import signal
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.environ["SLUICE_SOURCE_ROOT"], "tests", "support"))
from sluice_test import Agent, AgentTestCase, BIN, lines_in, wait_until  # noqa: E402
from sql_servers import MariaDB, Postgres  # noqa: E402

SERVERS = {}


def setUpModule():
    SERVERS["mariadb"] = MariaDB(tls=True)
    SERVERS["postgresql"] = Postgres(tls=True)


def tearDownModule():
    for s in SERVERS.values():
        s.close()


def fill(server, table, first, last):
    """Rows (id, 'name-<id> ...') for ids first..last."""
    if isinstance(server, MariaDB):
        server.sql(f"INSERT INTO {table} SELECT seq, CONCAT('name-', seq, ' \u00e9\U0001F600') "
                   f"FROM seq_{first}_to_{last}")
    else:
        server.sql(f"INSERT INTO {table} SELECT g, 'name-' || g || ' \u00e9\U0001F600' "
                   f"FROM generate_series({first}, {last}) g")


def create(server, table):
    server.sql(f"DROP TABLE IF EXISTS {table}; "
               f"CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL)")
    if isinstance(server, Postgres):
        server.sql(f"ALTER TABLE {table} OWNER TO app")


def expected(first, last):
    return [f"{i},name-{i} \u00e9\U0001F600" for i in range(first, last + 1)]


def properties(source, channel, sinks):
    """agent a1: source r1, channel c1, sinks {name: keys} (possibly none)."""
    out = ["a1.sources = r1", "a1.channels = c1", f"a1.sinks = {' '.join(sinks)}"]
    out += [f"a1.sources.r1.{k} = {v}" for k, v in {"channels": "c1", **source}.items()]
    out += [f"a1.channels.c1.{k} = {v}" for k, v in channel.items()]
    for name, keys in sinks.items():
        out += [f"a1.sinks.{name}.{k} = {v}" for k, v in {"channel": "c1", **keys}.items()]
    return "\n".join(out) + "\n"


class SqlE2E(AgentTestCase):
    dir_prefix = "sluice-sql-e2e-"

    def source(self, server, table, extra=None):
        """The SQL source's keys for table of server (its own status directory)."""
        keys = {"type": "org.keedio.flume.source.SQLSource",
                "hibernate.connection.url": server.url,
                "hibernate.connection.user": server.user,
                "connection.password.file": self.password_file(server),
                "table": table, "incremental.column.name": "id",
                "status.file.path": os.path.join(self.dir, f"status-{server.dialect}"),
                "status.file.name": f"{table}.status", "enclose.by.quotes": "false",
                "batch.size": "1000", "max.rows": "10000", "run.query.delay": "100"}
        keys.update(extra or {})
        return keys

    def password_file(self, server, password=None):
        path = os.path.join(self.dir, f"{server.dialect}.password")
        with open(path, "w") as f:
            f.write((password or server.password) + "\n")
        return path

    def agent(self, text, name="agent", monitor=False):
        """monitor: the monitoring server on a port the system picks (agent.monitor_port())."""
        conf = os.path.join(self.dir, f"{name}.properties")
        with open(conf, "w") as f:
            f.write(text)
        extra = ["--monitor-port", "0"] if monitor else []
        return self.start_agent(conf, log_name=f"{name}.log", extra_args=extra)

    def file_roll(self, out):
        return {"type": "file_roll", "sink.directory": out, "sink.rollInterval": "0",
                "sink.batchSize": "1000"}

    def memory(self):
        return {"type": "memory", "capacity": "20000", "transactionCapacity": "1000"}

    def each_server(self, fn):
        for name, server in SERVERS.items():
            with self.subTest(server=name):
                fn(server)

    def test_import_100000_rows_exactly_then_new_rows_follow(self):
        def check(server):
            table = "import100k"
            create(server, table)
            fill(server, table, 1, 100000)
            out = os.path.join(self.dir, f"out-{server.dialect}")
            a = self.agent(properties(self.source(server, table), self.memory(),
                                      {"k1": self.file_roll(out)}), name=f"import-{server.dialect}",
                           monitor=True)
            mon = a.monitor_port()
            self.assertTrue(wait_until(lambda: len(lines_in(out)) >= 100000, 120), a.text()[-3000:])
            fill(server, table, 100001, 100500)  # inserted while the agent runs
            self.assertTrue(wait_until(lambda: len(lines_in(out)) >= 100500, 60), a.text()[-3000:])
            # The counters, in Flume's JSON and in Prometheus.
            self.assertTrue(wait_until(lambda: int(metrics(mon)["SOURCE.r1"]["EmptyPollCount"]) >= 2))
            m = metrics(mon)["SOURCE.r1"]
            self.assertEqual(m["RowsReadCount"], "100500")
            self.assertEqual(m["EventAcceptedCount"], "100500")
            self.assertEqual(m["CurrentOffsetGauge"], "100500")
            self.assertEqual(m["ConnectedGauge"], "1")
            self.assertEqual(m["ErrorCount"], "0")
            self.assertGreaterEqual(int(m["PollCount"]), 11)  # pages of 10000, then empty polls
            prom = get(mon, "/metrics/prometheus")
            for series, value in (("flume_source_rows_read_total", "100500"),
                                  ("flume_source_current_offset_gauge", "100500"),
                                  ("flume_source_connected_gauge", "1"),
                                  ("flume_source_reconnect_total", "0")):
                self.assertRegex(prom, rf'(?m)^{series}{{[^}}]*component="r1"[^}}]*}} {value}$')
            self.assertEqual(a.stop(), 0)
            self.assertEqual(lines_in(out), expected(1, 100500))  # in order, each once
            with open(os.path.join(self.dir, f"status-{server.dialect}", f"{table}.status")) as f:
                status = json.load(f)
            self.assertEqual(status["LastIndex"], "100500")
            self.assertEqual(status["IncrementalColumn"], "id")
        self.each_server(check)

    def kill9_then_resume(self, server, table, crash):
        """Phase 1: source -> file channel, with a sink that fails every batch (test.file_sink
        with its failFile present), so the channel holds exactly what the source committed;
        crash(text, status_offset) ends the agent with SIGKILL in the middle of the import and
        returns the status file's offset at that moment. Phase 2: restart, the sink drains, the
        source resumes; a clean stop. Asserts that the output is the table, each row once and in
        order: the offset rides in the file channel's put transactions, so after a restart the
        source resumes exactly after the rows the channel committed (README: "Offsets")."""
        n, batch = 100000, 500
        create(server, table)
        fill(server, table, 1, n)
        out = os.path.join(self.dir, f"out-{table}-{server.dialect}.txt")
        fail = os.path.join(self.dir, f"fail-{table}")
        open(fail, "w").close()
        channel = {"type": "file",
                   "checkpointDir": os.path.join(self.dir, f"cp-{table}-{server.dialect}"),
                   "dataDirs": os.path.join(self.dir, f"data-{table}-{server.dialect}"),
                   "capacity": "200000", "transactionCapacity": "1000"}
        sink = {"type": "test.file_sink", "outFile": out, "failFile": fail, "batchSize": "1000"}
        text = properties(self.source(server, table, {"batch.size": str(batch), "max.rows": "5000"}),
                          channel, {"k1": sink})
        status = os.path.join(self.dir, f"status-{server.dialect}", f"{table}.status")

        def committed():
            try:
                with open(status) as f:
                    return int(json.load(f)["LastIndex"])
            except (OSError, ValueError, KeyError):
                return 0
        at_kill = crash(text, committed)
        self.assertLess(at_kill, n, "the import ended before the kill; raise n")
        os.unlink(fail)
        second = self.agent(text, name=f"{table}2-{server.dialect}")
        self.assertTrue(wait_until(lambda: len(lines_in(self.dir, os.path.basename(out))) >= n,
                                   120), second.text()[-3000:])
        self.assertEqual(second.stop(), 0)
        got = lines_in(self.dir, os.path.basename(out))
        # No row missing, no row twice: the output equals the table.
        self.assertEqual(len(got), n, f"{len(got) - n} rows too many" if len(got) > n else "")
        self.assertEqual(got, expected(1, n))
        return at_kill, second

    def test_kill9_in_the_middle_of_an_import_loses_and_repeats_nothing(self):
        """kill -9 at a random moment of a batch (SLUICE_CRASH_SEED repeats a run)."""
        def check(server):
            def crash(text, committed):
                first = self.agent(text, name=f"killed1-{server.dialect}")
                # The moment is a random offset, not a random delay: a fast server and disk
                # import the rest of the table within any fixed delay. Polled every millisecond,
                # the kill lands a few hundred rows past it, somewhere inside a batch.
                rng = random.Random(int(os.environ.get("SLUICE_CRASH_SEED", "0")) or None)
                at = rng.randrange(20000, 60000)
                self.assertTrue(wait_until(lambda: committed() >= at, 60, interval=0.001),
                                first.text()[-3000:])
                first.kill9()
                return committed()
            at_kill, _ = self.kill9_then_resume(server, "killed", crash)
            print(f"\n{server.dialect}: kill -9 at status offset {at_kill}: no row missing or "
                  f"repeated", file=sys.stderr)
        self.each_server(check)

    def test_kill9_between_the_channel_commit_and_the_offset_save_repeats_nothing(self):
        """The one window that used to repeat a batch, hit on purpose: the test seam
        SLUICE_TEST_SQL_KILL_AFTER_COMMITS makes the agent SIGKILL itself right after its 30th
        channel commit, before the status file's rename. The status file is then one batch behind
        the channel; the restart must resume after the channel's offset, not the file's."""
        def check(server):
            commits, batch = 30, 500

            def crash(text, committed):
                conf = os.path.join(self.dir, f"window-{server.dialect}.properties")
                with open(conf, "w") as f:
                    f.write(text)
                env = dict(os.environ, SLUICE_TEST_SQL_KILL_AFTER_COMMITS=str(commits))
                # Not start_agent(): the agent may be gone before its "started:" line is read.
                first = Agent(conf, self.dir, extra_args=["--plugins-path", self.plugdir],
                              log_name=f"window1-{server.dialect}.log", env=env)
                self.agents.append(first)
                self.assertEqual(first.proc.wait(timeout=120), -signal.SIGKILL, first.text()[-3000:])
                first.kill9()  # closes its log
                return committed()
            at_kill, second = self.kill9_then_resume(server, "crash_window", crash)
            # The crash hit the window: the status file had not recorded the last batch.
            self.assertEqual(at_kill, (commits - 1) * batch)
            self.assertIn(f"the channels committed rows up to id {commits * batch}", second.text())
        self.each_server(check)

    def test_server_killed_and_restarted_mid_import_reconnects_and_continues(self):
        def check(server):
            table = "restart"
            n = 60000
            create(server, table)
            fill(server, table, 1, n)
            out = os.path.join(self.dir, f"out-{server.dialect}")
            channel = {"type": "file", "checkpointDir": os.path.join(self.dir, f"rcp-{server.dialect}"),
                       "dataDirs": os.path.join(self.dir, f"rdata-{server.dialect}"),
                       "capacity": "200000", "transactionCapacity": "1000"}
            a = self.agent(properties(self.source(server, table, {"batch.size": "100",
                                                                   "max.rows": "2000"}),
                                      channel, {"k1": self.file_roll(out)}),
                           name=f"restart-{server.dialect}", monitor=True)
            mon = a.monitor_port()
            self.assertTrue(wait_until(lambda: len(lines_in(out)) >= 3000, 60), a.text()[-3000:])
            server.kill()  # SIGKILL / immediate shutdown: the connection breaks mid-stream
            at_kill = len(lines_in(out))
            self.assertTrue(wait_until(lambda: "lost the connection to" in a.text(), 30),
                            a.text()[-3000:])
            self.assertTrue(wait_until(lambda: ready(mon)[0] == 503, 30))
            code, body = ready(mon)
            self.assertIn("SOURCE.r1: cannot reach its server", body["reasons"])
            self.assertEqual(metrics(mon)["SOURCE.r1"]["ConnectedGauge"], "0")
            server.start()  # crash recovery, same port
            self.assertTrue(wait_until(lambda: len(lines_in(out)) >= n, 120), a.text()[-3000:])
            self.assertTrue(wait_until(lambda: ready(mon)[0] == 200, 30), str(ready(mon)))
            fill(server, table, n + 1, n + 200)
            self.assertTrue(wait_until(lambda: len(lines_in(out)) >= n + 200, 60), a.text()[-3000:])
            self.assertEqual(a.stop(), 0)
            self.assertEqual(lines_in(out), expected(1, n + 200))
            self.assertIn("reconnected to", a.text())
            print(f"\n{server.dialect}: server killed at {at_kill}/{n} rows delivered",
                  file=sys.stderr)
        self.each_server(check)

    def test_wrong_password_is_a_clear_error_and_no_secret_leaks(self):
        def check(server):
            table = "secret_t"
            create(server, table)
            fill(server, table, 1, 10)
            wrong = "Hunter2-wrong-pw"
            keys = self.source(server, table, {"hibernate.connection.password": wrong})
            del keys["connection.password.file"]
            text = properties(keys, self.memory(), {"k1": {"type": "null"}})
            conf = os.path.join(self.dir, "wrong.properties")
            with open(conf, "w") as f:
                f.write(text)
            v = subprocess.run([BIN, "validate", "-n", "a1", "-f", conf], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(v.returncode, 0, v.stderr)
            self.assertNotIn(wrong, v.stdout + v.stderr)
            a = self.agent(text, name=f"wrong-{server.dialect}", monitor=True)
            mon = a.monitor_port()
            self.assertTrue(wait_until(lambda: "cannot log in to" in a.text(), 30), a.text())
            self.assertTrue(wait_until(lambda: ready(mon)[0] == 503, 30))
            log = a.text()
            self.assertIn("as 'app'", log)
            self.assertIn("Access denied for user 'app'" if isinstance(server, MariaDB)
                          else "password authentication failed for user \"app\"", log)
            for path in ("/config", "/metrics", "/metrics/prometheus", "/api/status", "/ready"):
                self.assertNotIn(wrong, get(mon, path), path)
            self.assertIn("******", get(mon, "/config"))
            self.assertEqual(a.stop(), 0)
            self.assertNotIn(wrong, a.text())
        self.each_server(check)

    def test_tls_verifies_the_server_certificate_by_default(self):
        def check(server):
            table = "tls_t"
            create(server, table)
            fill(server, table, 1, 100)

            def run(name, keys, rows, during=lambda: None):
                """An agent with these TLS keys; returns its log once `rows` rows arrived, or,
                with rows = 0, once it failed to connect (calling during() before stopping it)."""
                out = os.path.join(self.dir, f"{name}-{server.dialect}")
                a = self.agent(properties(self.source(server, table, {
                    "ssl": "true", "status.file.name": f"{name}.status", **keys}),
                    self.memory(), {"k1": self.file_roll(out)}), name=f"{name}-{server.dialect}")
                done = (lambda: len(lines_in(out)) >= rows) if rows else (
                    lambda: "cannot connect to" in a.text())
                self.assertTrue(wait_until(done, 30), a.text()[-3000:])
                during()
                self.assertEqual(a.stop(), 0)
                self.assertEqual(lines_in(out), expected(1, rows))
                return a.text()
            # ssl with the test CA: the rows come over TLS (the server counts the session).
            before = tls_sessions(server)
            log = run("tls-ca", {"ssl.ca": server.tls["ca"]}, 100,
                      lambda: self.assertGreater(tls_sessions(server), before))
            self.assertRegex(log, r"connected to \S+ \([^)]*, TLS\)")
            # ssl without ssl.ca: the system's CAs do not know the test CA, so the server is
            # refused: a clear error, nothing read.
            log = run("tls-system", {}, 0)
            self.assertRegex(log.lower(), r"cannot connect to .*(certificate|verif)")
            # ssl.verify = false: encrypted, not verified.
            run("tls-noverify", {"ssl.verify": "false"}, 100)
        self.each_server(check)

    def test_a_lock_wait_timeout_runs_the_query_again(self):
        def check(server):
            table = "locked"
            create(server, table)
            fill(server, table, 1, 500)
            mysql = isinstance(server, MariaDB)
            # Sessions opened from now on give up on a lock after 1 s.
            if mysql:
                old = server.sql("SELECT @@GLOBAL.lock_wait_timeout").strip()
                server.sql("SET GLOBAL lock_wait_timeout = 1")
            else:
                server.sql("ALTER SYSTEM SET lock_timeout = '1s'; SELECT pg_reload_conf()")
            try:
                out = os.path.join(self.dir, f"lock-{server.dialect}")
                a = self.agent(properties(self.source(server, table), self.memory(),
                                          {"k1": self.file_roll(out)}), name=f"lock-{server.dialect}")
                self.assertTrue(wait_until(lambda: len(lines_in(out)) >= 500, 30), a.text()[-3000:])
                # Another session holds the table exclusively for 4 s.
                hold = ("LOCK TABLES locked WRITE; SELECT SLEEP(4); UNLOCK TABLES;" if mysql else
                        "BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;")
                holder = subprocess.Popen(server.client_command(), stdin=subprocess.PIPE,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
                holder.stdin.write(hold)
                holder.stdin.close()
                self.assertTrue(wait_until(lambda: "running it again" in a.text(), 30), a.text()[-3000:])
                holder.wait(timeout=60)
                fill(server, table, 501, 600)
                self.assertTrue(wait_until(lambda: len(lines_in(out)) >= 600, 30), a.text()[-3000:])
                self.assertEqual(a.stop(), 0)
                self.assertEqual(lines_in(out), expected(1, 600))
                self.assertRegex(a.text(), "Lock wait timeout exceeded|canceling statement due to lock timeout")
                self.assertNotIn("lost the connection", a.text())
            finally:
                if mysql:
                    server.sql(f"SET GLOBAL lock_wait_timeout = {old}")
                else:
                    server.sql("ALTER SYSTEM RESET lock_timeout; SELECT pg_reload_conf()")
        self.each_server(check)

    def test_injection_in_table_or_columns_is_rejected_before_anything_starts(self):
        server = SERVERS["mariadb"]
        for key, value in (("table", "orders; DROP TABLE users"),
                           ("columns.to.select", "id, name FROM users --"),
                           ("incremental.column.name", "id) OR (1=1")):
            with self.subTest(key=key):
                keys = self.source(server, "orders", {key: value})
                conf = os.path.join(self.dir, "inject.properties")
                with open(conf, "w") as f:
                    f.write(properties(keys, self.memory(), {"k1": {"type": "null"}}))
                for cmd in (["validate"], ["agent", "--no-reload-conf"]):
                    r = subprocess.run([BIN, *cmd, "-n", "a1", "-f", conf], capture_output=True,
                                       text=True, timeout=60)
                    self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                    self.assertRegex(r.stderr, re.escape(f"a1.sources.r1.{key}: '{value}' is not a "))


def ready(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
    except OSError:
        return 0, {}


def tls_sessions(server):
    """MariaDB: TLS handshakes it accepted so far; PostgreSQL: sluice's TLS sessions now."""
    if isinstance(server, MariaDB):
        return int(server.sql("SHOW GLOBAL STATUS LIKE 'Ssl_accepts'").split()[1])
    return int(server.sql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                          "WHERE a.application_name = 'sluice' AND s.ssl").strip())


def get(port, path):
    """The body of GET path, whatever the status."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        return e.read().decode()


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return json.load(r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
