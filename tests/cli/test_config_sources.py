#!/usr/bin/env python3
"""Where the config comes from, as Flume 1.10+: several -f files merged in order, -u/--conf-uri
against a real HTTP(S) server (Basic authorization, polling, a backup copy with -b), and -z/-p
against a real ZooKeeper server (Debian's `zookeeper`, started here in a temporary directory).
Every test checks what comes out at the far end (file_roll files), and that a bad remote edit is
refused while the agent keeps delivering."""

import base64
import email.utils
import http.server
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import (BIN, Agent, AgentTestCase, free_port, lines_in,  # noqa: E402
                         port_open, run, send_acked, wait_until)
from http_servers import make_pki  # noqa: E402

try:
    from kazoo.client import KazooClient
except ImportError:  # a Python other than Debian's (pyenv): use Debian's python3-kazoo
    sys.path.append("/usr/lib/python3/dist-packages")
    from kazoo.client import KazooClient

FLUME_NG = os.path.join(os.path.dirname(os.path.abspath(BIN)), "flume-ng")
PASSWORD = "s3cret-conf-pw"

# netcat (port 0) -> memory -> file_roll into {out}.
NETCAT_FILE_ROLL = """a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.ack-every-event = true
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = {out}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.batchSize = 1
"""

# A config that parses but does not validate: the channel's capacity is not a number.
BAD_EDIT = NETCAT_FILE_ROLL + "a1.channels.c1.capacity = lots\n"
BAD_LINE = NETCAT_FILE_ROLL.count("\n") + 1


def count_lines(directory):
    return len(lines_in(directory))


class ProcessAgent(Agent):
    """An agent started with the exact arguments given (`sluice agent ...` or `flume-ng agent
    ...`), its output in workdir/log_name; Agent's waits and port lookups work on it."""

    def __init__(self, args, workdir, log_name="agent.log", env=None):  # noqa: super not called
        self.log_path = os.path.join(workdir, log_name)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env if env is not None else os.environ.copy())


class Documents(dict):
    """path -> text, remembering when each was last set (its Last-Modified)."""

    def __init__(self):
        super().__init__()
        self.mtimes = {}

    def __setitem__(self, path, text):
        self.mtimes[path] = time.time()
        super().__setitem__(path, text)


class ConfigServer:
    """A threaded HTTP server that serves `docs[path]` (text) to requests with the expected
    Basic authorization; 401 without it, 404 for an unknown path. Like a web server serving
    files, it sends Last-Modified (whole seconds) and answers 304 to an If-Modified-Since that is
    not older (counted in not_modified). With tls=(cert, key), HTTPS."""

    def __init__(self, user="flume", password=PASSWORD, tls=None, port=0):
        self.docs = Documents()
        self.requests = 0
        self.not_modified = 0
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="flume"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = outer.docs.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                mtime = int(outer.docs.mtimes[self.path])
                since = self.headers.get("If-Modified-Since")
                if since and mtime <= email.utils.parsedate_to_datetime(since).timestamp():
                    outer.not_modified += 1
                    self.send_response(304)
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class ZooKeeper:
    """Debian's ZooKeeper 3.8 as a standalone server on `port`, data in `datadir` (kept across
    a stop and a start, as a real restart)."""

    def __init__(self, datadir, port=None):
        self.datadir = datadir
        self.port = port or free_port()
        self.proc = None

    def start(self):
        os.makedirs(self.datadir, exist_ok=True)
        cp = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/*"
        self.log = open(os.path.join(self.datadir, "..", "zookeeper.log"), "a")
        # No AdminServer: it would want port 8080, which anything else may hold. `mntr` tells
        # how many sessions the server holds (sessions()).
        self.proc = subprocess.Popen(
            ["java", "-Xmx256m", "-Dzookeeper.admin.enableServer=false",
             "-Dzookeeper.4lw.commands.whitelist=mntr", "-cp", cp,
             "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.port), self.datadir],
            stdout=self.log, stderr=subprocess.STDOUT)
        try:
            if not port_open(self.port, 60) or self.proc.poll() is not None:
                raise AssertionError("ZooKeeper did not start")
            # Accepting connections comes a moment before serving sessions (a fresh JVM can
            # take its time): wait, with a deadline, until a session opens.
            if not wait_until(self.serving, 60, interval=0.5):
                raise AssertionError("ZooKeeper accepts connections but opens no session")
        except Exception:
            self.stop()
            raise

    def sessions(self):
        """The number of sessions the server holds (its `mntr` zk_global_sessions)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as c:
            c.sendall(b"mntr")
            data = b""
            while chunk := c.recv(65536):
                data += chunk
        for line in data.decode().splitlines():
            if line.startswith("zk_global_sessions\t"):
                return int(line.split("\t")[1])
        raise AssertionError("no zk_global_sessions in mntr: " + data.decode()[:500])

    def serving(self):
        try:
            zk = self.client(timeout=5)
        except Exception:
            return False
        zk.stop()
        zk.close()
        return True

    def client(self, timeout=15):
        zk = KazooClient(hosts=f"127.0.0.1:{self.port}", timeout=timeout)
        zk.start(timeout=timeout)
        return zk

    def write(self, path, text):
        zk = self.client()
        try:
            zk.ensure_path(path)
            zk.set(path, text.encode())
        finally:
            zk.stop()
            zk.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


class SourcesTestCase(AgentTestCase):
    dir_prefix = "sluice-confsrc-"

    def spawn(self, args, log_name="agent.log", env=None):
        a = ProcessAgent(args, self.dir, log_name, env)
        self.agents.append(a)
        return a

    def deliver(self, agent, out, lines):
        """Sends lines to the netcat source and waits until file_roll holds them all."""
        before = count_lines(out)
        replies = send_acked(agent.port_of("r1"), lines)
        self.assertEqual(replies, ["OK"] * len(lines))
        self.assertTrue(wait_until(lambda: count_lines(out) >= before + len(lines), 30),
                        f"{out}: {count_lines(out)} lines, expected {before + len(lines)}")
        self.assertEqual(count_lines(out), before + len(lines))


class SeveralFilesTest(SourcesTestCase):
    def test_later_file_overrides_and_diagnostics_name_the_file(self):
        out1, out2 = os.path.join(self.dir, "out1"), os.path.join(self.dir, "out2")
        base = self.write("base.properties", NETCAT_FILE_ROLL.format(out=out1))
        # The override moves the sink's output; its capacity line is line 2.
        override = self.write("override.properties",
                              f"a1.sinks.k1.sink.directory = {out2}\n"
                              "a1.channels.c1.capacity = 500\n")
        a = self.spawn([BIN, "agent", "-n", "a1", "-f", base, "-f", override,
                        "--no-reload-conf"])
        a.wait_started()
        self.deliver(a, out2, [f"e{i}" for i in range(20)])
        self.assertEqual(count_lines(out1), 0)
        self.assertEqual(a.stop(), 0)

        # A bad value in the second file: the error names that file and line.
        with open(override, "a") as f:
            f.write("a1.channels.c1.transactionCapacity = many\n")
        r = run("validate", "-n", "a1", "-f", base, "-f", override)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("a1.channels.c1.transactionCapacity: expected an integer, got 'many' "
                      "(" + override + ":3)", r.stderr)
        # In the other order the base file's keys win, and the base file is named.
        with open(base, "a") as f:
            f.write("a1.channels.c1.transactionCapacity = 200\n")
        r = run("validate", "-n", "a1", "-f", override, "-f", base)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{override} + {base}: agent 'a1' is valid", r.stdout)

    def test_edit_of_the_second_file_reloads(self):
        out1, out2 = os.path.join(self.dir, "out1"), os.path.join(self.dir, "out2")
        base = self.write("base.properties", NETCAT_FILE_ROLL.format(out=out1))
        override = self.write("override.properties", "# nothing yet\n")
        a = self.spawn([BIN, "agent", "-n", "a1", "-f", base, "-f", override])
        a.wait_started()
        self.deliver(a, out1, ["a", "b"])
        with open(override, "w") as f:
            f.write(f"a1.sinks.k1.sink.directory = {out2}\n")
        a.wait_for("reloaded", 30)
        self.deliver(a, out2, ["c", "d", "e"])
        self.assertEqual(a.stop(), 0)


class ConfUriTest(SourcesTestCase):
    def setUp(self):
        super().setUp()
        self.server = ConfigServer()

    def tearDown(self):
        self.server.stop()
        super().tearDown()

    def uri_args(self, *extra, url=None, password=PASSWORD):
        return [BIN, "agent", "-n", "a1", "-u", url or self.server.url("/a1.properties"),
                "--conf-user", "flume", "--conf-password", password, *extra]

    def test_uri_runs_reloads_refuses_a_bad_edit_and_keeps_a_backup(self):
        out1, out2, out3 = (os.path.join(self.dir, n) for n in ("out1", "out2", "out3"))
        backup = os.path.join(self.dir, "backup")
        self.server.docs["/a1.properties"] = NETCAT_FILE_ROLL.format(out=out1)
        a = self.spawn(self.uri_args("-i", "1", "-b", backup, "--monitor-port", "0"))
        a.wait_started()
        self.deliver(a, out1, [f"one{i}" for i in range(10)])
        with urllib.request.urlopen(f"http://127.0.0.1:{a.monitor_port()}/config",
                                    timeout=10) as r:
            config_page = r.read().decode()
        self.assertIn("file_roll", config_page)
        self.assertNotIn(PASSWORD, config_page)
        backup_file = os.path.join(backup, ".a1.properties")
        self.assertTrue(wait_until(lambda: os.path.exists(backup_file), 10))
        with open(backup_file) as f:
            self.assertIn(f"sink.directory = {out1}", f.read())

        # An edit on the server is polled and reloaded.
        self.server.docs["/a1.properties"] = NETCAT_FILE_ROLL.format(out=out2)
        a.wait_for("reloaded", 30)
        self.deliver(a, out2, [f"two{i}" for i in range(10)])

        def backup_text():
            with open(backup_file) as f:
                return f.read()
        self.assertTrue(wait_until(lambda: out2 in backup_text(), 10))

        # A bad edit is refused; the running config keeps delivering, the backup stays good.
        self.server.docs["/a1.properties"] = BAD_EDIT.format(out=out1)
        a.wait_for("reload refused", 30)
        self.assertIn("a1.channels.c1.capacity: expected an integer, got 'lots' (" +
                      self.server.url("/a1.properties") + f":{BAD_LINE})", a.text())
        self.deliver(a, out2, [f"three{i}" for i in range(10)])
        self.assertEqual(count_lines(out1), 10)
        self.assertNotIn("lots", backup_text())

        # The server goes away: a warning, and the agent keeps delivering; it comes back (same
        # port) with an edit: reloaded.
        port = self.server.port
        self.server.stop()
        a.wait_for("the running configuration stays", 30)
        self.deliver(a, out2, [f"four{i}" for i in range(10)])
        self.server = ConfigServer(port=port)
        self.server.docs["/a1.properties"] = NETCAT_FILE_ROLL.format(out=out3)
        self.assertTrue(wait_until(lambda: a.text().count("configuration reloaded") >= 2, 30),
                        a.text()[-3000:])
        self.deliver(a, out3, [f"five{i}" for i in range(10)])
        self.assertTrue(wait_until(lambda: out3 in backup_text(), 10))
        self.assertEqual(count_lines(out2), 30)
        # Polls of an unchanged document are conditional requests (If-Modified-Since).
        self.assertTrue(wait_until(lambda: self.server.not_modified > 0, 15))
        self.assertEqual(a.stop(), 0)
        self.assertNotIn(PASSWORD, a.text())

        # The server away at start: the backup copy runs (through flume-ng, as Flume's
        # command line writes it).
        self.server.stop()
        self.server = ConfigServer()  # another port; the old one is closed
        dead = self.server.url("/a1.properties").replace(f":{self.server.port}",
                                                         f":{free_port()}")
        b = self.spawn([FLUME_NG, "agent", "-n", "a1", "--conf-uri", dead, "--conf-user", "flume",
                        "--conf-password", PASSWORD, "-b", backup, "--no-reload-conf"],
                       log_name="backup.log")
        b.wait_started()
        self.assertIn("using the backup copy " + backup_file, b.text())
        self.deliver(b, out3, [f"six{i}" for i in range(10)])
        self.assertEqual(b.stop(), 0)
        self.assertNotIn(PASSWORD, b.text())

        # ... and without a backup directory it is a clear error.
        r = run("agent", "-n", "a1", "-u", dead, "--no-reload-conf", timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("error: cannot fetch the configuration from " + dead, r.stderr)
        self.assertIn("-b/--backup-directory", r.stderr)

    def test_wrong_password_and_missing_document_are_clear_errors(self):
        self.server.docs["/a1.properties"] = NETCAT_FILE_ROLL.format(out=self.dir)
        r = run(*self.uri_args("--no-reload-conf", password="not-the-pw-4711")[1:])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("HTTP 401", r.stderr)
        self.assertIn("check --conf-user/--conf-password", r.stderr)
        self.assertNotIn("not-the-pw-4711", r.stderr)
        r = run(*self.uri_args("--no-reload-conf", url=self.server.url("/nope.properties"))[1:])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("HTTP 404", r.stderr)

    def test_uris_merge_before_files(self):
        out1, out2, out3 = (os.path.join(self.dir, n) for n in ("out1", "out2", "out3"))
        self.server.docs["/a1.properties"] = NETCAT_FILE_ROLL.format(out=out1)
        self.server.docs["/override.properties"] = f"a1.sinks.k1.sink.directory = {out2}\n"
        local = self.write("local.properties", f"a1.sinks.k1.sink.directory = {out3}\n")
        # The file comes first on the command line, yet merges last, as Flume documents.
        a = self.spawn([BIN, "agent", "-n", "a1", "-f", local, "-u",
                        self.server.url("/a1.properties"), "-u",
                        self.server.url("/override.properties"), "--conf-user", "flume",
                        "--conf-password", PASSWORD, "--no-reload-conf"])
        a.wait_started()
        self.deliver(a, out3, ["x", "y"])
        self.assertEqual(count_lines(out1) + count_lines(out2), 0)
        self.assertEqual(a.stop(), 0)

    def test_https_verifies_the_server(self):
        pki = make_pki(os.path.join(self.dir, "pki"))
        tls = ConfigServer(tls=(pki["cert"], pki["key"]))
        try:
            out = os.path.join(self.dir, "out")
            tls.docs["/a1.properties"] = NETCAT_FILE_ROLL.format(out=out)
            # Not signed by a CA the system trusts: refused.
            r = run("agent", "-n", "a1", "-u", tls.url("/a1.properties"), "--conf-user", "flume",
                    "--conf-password", PASSWORD, "--no-reload-conf")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("certificate verify failed", r.stderr)
            # Trusted through OpenSSL's SSL_CERT_FILE: runs.
            env = dict(os.environ, SSL_CERT_FILE=pki["ca"])
            a = self.spawn([BIN, "agent", "-n", "a1", "-u", tls.url("/a1.properties"),
                            "--conf-user", "flume", "--conf-password", PASSWORD,
                            "--no-reload-conf"], env=env)
            a.wait_started()
            self.deliver(a, out, ["tls1", "tls2"])
            self.assertEqual(a.stop(), 0)
        finally:
            tls.stop()


class ZooKeeperTest(SourcesTestCase):
    def setUp(self):
        super().setUp()
        self.zk = ZooKeeper(os.path.join(self.dir, "zkdata"))
        self.zk.start()

    def tearDown(self):
        for a in self.agents:
            if a.alive():
                a.kill9()
        self.zk.stop()
        super().tearDown()

    def test_znode_runs_reloads_refuses_a_bad_edit_and_survives_a_restart(self):
        out1, out2, out3 = (os.path.join(self.dir, n) for n in ("out1", "out2", "out3"))
        self.zk.write("/flume/a1", NETCAT_FILE_ROLL.format(out=out1))
        connect = f"127.0.0.1:{self.zk.port}"
        a = self.spawn([FLUME_NG, "agent", "-n", "a1", "-z", connect, "-p", "/flume"])
        a.wait_started()
        self.deliver(a, out1, [f"one{i}" for i in range(10)])

        # A znode edit reloads at once (a watch, not a poll).
        self.zk.write("/flume/a1", NETCAT_FILE_ROLL.format(out=out2))
        a.wait_for("reloaded", 20)
        self.deliver(a, out2, [f"two{i}" for i in range(10)])

        # A bad edit is refused and the old config keeps delivering.
        self.zk.write("/flume/a1", BAD_EDIT.format(out=out1))
        a.wait_for("reload refused", 20)
        self.assertIn(f"(zk://{connect}/flume/a1:{BAD_LINE})", a.text())
        self.deliver(a, out2, [f"three{i}" for i in range(10)])

        # ZooKeeper stopped: the agent keeps running and delivering; restarted: a later edit
        # is picked up.
        self.zk.stop()
        a.wait_for("connection lost", 30)
        self.deliver(a, out2, [f"four{i}" for i in range(10)])
        self.assertTrue(a.alive())
        self.zk.start()
        self.zk.write("/flume/a1", NETCAT_FILE_ROLL.format(out=out3))
        self.assertTrue(wait_until(lambda: a.text().count("reloaded") >= 2, 60), a.text()[-4000:])
        self.deliver(a, out3, [f"five{i}" for i in range(10)])
        self.assertEqual(count_lines(out2), 30)
        self.assertEqual(a.stop(), 0)

    def test_an_expired_session_is_replaced_and_the_znode_read_again(self):
        out1, out2 = os.path.join(self.dir, "out1"), os.path.join(self.dir, "out2")
        self.zk.write("/flume/a1", NETCAT_FILE_ROLL.format(out=out1))
        a = self.spawn([BIN, "agent", "-n", "a1", "-z", f"127.0.0.1:{self.zk.port}"])
        a.wait_started()
        self.deliver(a, out1, ["a", "b"])
        # The agent frozen (a long pause) past its 10 s session timeout: the server expires the
        # session; once it runs again the client hears so and a new session reads the znode.
        self.assertEqual(self.zk.sessions(), 1)
        a.proc.send_signal(signal.SIGSTOP)
        try:
            self.assertTrue(wait_until(lambda: self.zk.sessions() == 0, 60, interval=0.5))
        finally:
            a.proc.send_signal(signal.SIGCONT)
        a.wait_for("session expired", 30)
        self.zk.write("/flume/a1", NETCAT_FILE_ROLL.format(out=out2))
        a.wait_for("configuration reloaded", 30)
        self.deliver(a, out2, ["c", "d", "e"])
        self.assertEqual(count_lines(out1), 2)
        self.assertEqual(a.stop(), 0)

    def test_missing_znode_and_unreachable_server_are_clear_errors(self):
        r = run("agent", "-n", "a1", "-z", f"127.0.0.1:{self.zk.port}", "-p", "/flume",
                "--no-reload-conf")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the znode /flume/a1 does not exist", r.stderr)
        dead = free_port()
        r = run("agent", "-n", "a1", "-z", f"127.0.0.1:{dead}", "--no-reload-conf", timeout=90)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"no ZooKeeper server at 127.0.0.1:{dead} answered", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
