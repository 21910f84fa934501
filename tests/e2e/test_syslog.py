#!/usr/bin/env python3
"""End-to-end tests of the syslog and UDP netcat sources with the real binary and clients no one
here wrote:

- util-linux `logger` over TCP (newline and --octet-count) and UDP, RFC 3164 and RFC 5424 with
  structured data and unicode, into syslogtcp, multiport_syslogtcp and syslogudp;
- rsyslog forwarding with omfwd (TCP with RFC 6587 octet counting and the RFC 5424 template,
  and UDP), started by the test with its own config in a temporary directory;
- syslog-ng forwarding with its network() and syslog() destinations, likewise (skipped, saying
  why, when no syslog-ng binary is found: Debian's syslog-ng conflicts with rsyslog, so it may
  only be unpacked; SLUICE_SYSLOG_NG names its binary);
- netcatudp with remoteAddressHeader;
- bad input on a TCP port (garbage with an impossible octet count, a 10 MB line, a client that
  stalls mid-message): the agent survives, the bad connection is closed and counted, a good
  connection keeps flowing.

Every message is checked to arrive exactly once, with the headers Flume sets, in the avro_event
files of a file_roll sink (headers and body both kept)."""

import glob
import json
import re
import os
import shutil
import socket
import subprocess
import sys
import time
import unittest
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "tests", "support"))
from sluice_test import (SOURCE_LISTENING, AgentTestCase, free_port, port_open,  # noqa: E402
                         wait_until)
import avro_peer  # noqa: E402,F401  (puts Debian's python3-avro on sys.path)
import avro.datafile  # noqa: E402
import avro.io  # noqa: E402

HOSTNAME = socket.gethostname()


def agent_conf(path, out):
    """Five sources into one memory channel and a file_roll sink writing avro_event files. A
    static interceptor names each event's source (header `src`), since rsyslog sends the same
    message to two of them."""
    sources = {
        "tcp": """type = syslogtcp
host = 127.0.0.1
port = 0
clientIPHeader = clientIp
messageTimeout = 3""",
        # A 4 MiB socket buffer (this machine's rmem_max): rsyslog sends its burst faster than
        # a loaded 2-core machine may schedule the reader, and the default buffer drops.
        "udp": """type = syslogudp
host = 127.0.0.1
port = 0
clientIPHeader = clientIp
receiveBufferBytes = 4194304""",
        "multi": """type = multiport_syslogtcp
host = 127.0.0.1
ports = 0 0
portHeader = port""",
        "nc": """type = netcatudp
bind = 127.0.0.1
port = 0
remoteAddressHeader = remote
receiveBufferBytes = 4194304""",
    }
    lines = ["a1.sources = " + " ".join(sources), "a1.channels = c1", "a1.sinks = k1"]
    for name, body in sources.items():
        for kv in body.splitlines():
            lines.append(f"a1.sources.{name}.{kv}")
        lines += [f"a1.sources.{name}.channels = c1",
                  f"a1.sources.{name}.interceptors = i1",
                  f"a1.sources.{name}.interceptors.i1.type = static",
                  f"a1.sources.{name}.interceptors.i1.key = src",
                  f"a1.sources.{name}.interceptors.i1.value = {name}"]
    lines += ["a1.channels.c1.type = memory",
              "a1.channels.c1.capacity = 200000",
              "a1.channels.c1.transactionCapacity = 10000",
              "a1.sinks.k1.type = file_roll",
              "a1.sinks.k1.channel = c1",
              f"a1.sinks.k1.sink.directory = {out}",
              "a1.sinks.k1.sink.rollInterval = 0",
              "a1.sinks.k1.sink.serializer = avro_event",
              "a1.sinks.k1.sink.batchSize = 1000"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def records(directory):
    """Every (headers, body text) readable so far from the avro_event files (a block still being
    written is left for the next call)."""
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        try:
            with open(path, "rb") as f:
                for r in avro.datafile.DataFileReader(f, avro.io.DatumReader()):
                    out.append((r["headers"], r["body"].decode("utf-8", "replace")))
        except Exception:  # noqa: BLE001  a partly written block: read again later
            pass
    return out


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return json.loads(r.read().decode())


def logger(*args, stdin_text):
    """util-linux logger; each stdin line is one message."""
    subprocess.run(["logger", *args], input=stdin_text.encode(), check=True, timeout=60)


def find_syslog_ng():
    """(binary, extra arguments, environment) to run syslog-ng, or (None, None, None). An
    unpacked package (dpkg -x into ROOT; SLUICE_SYSLOG_NG=ROOT/usr/sbin/syslog-ng) needs its
    module directory and private libraries named."""
    exe = os.environ.get("SLUICE_SYSLOG_NG") or shutil.which("syslog-ng")
    if not exe or not os.access(exe, os.X_OK):
        return None, None, None
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(exe))))
    mods = glob.glob(os.path.join(root, "usr", "lib", "syslog-ng", "3.*"))
    env = os.environ.copy()
    libs = [d for d in (os.path.join(root, "usr", "lib", "syslog-ng"),
                        os.path.join(root, "usr", "lib", "x86_64-linux-gnu")) if os.path.isdir(d)]
    if libs:
        env["LD_LIBRARY_PATH"] = ":".join(libs + [env.get("LD_LIBRARY_PATH", "")]).rstrip(":")
    return exe, ([f"--module-path={mods[0]}"] if mods else []), env


class SyslogTest(AgentTestCase):
    dir_prefix = "sluice-syslog-"

    def setUp(self):
        super().setUp()
        self.out = os.path.join(self.dir, "out")
        os.makedirs(self.out)
        conf = os.path.join(self.dir, "a1.properties")
        agent_conf(conf, self.out)
        self.agent = self.start_agent(conf, extra_args=["--monitor-port", "0"])
        text = self.agent.text()
        self.ports = {}
        for m in SOURCE_LISTENING.finditer(text):
            self.ports.setdefault(m.group("name"), []).append(int(m.group("port")))
        for name in ("tcp", "udp", "nc"):
            self.ports[name] = self.ports[name][-1]
        self.assertEqual(len(self.ports["multi"]), 2, text)
        self.marker = uuid.uuid4().hex[:12]
        self.procs = []
        self.files = []

    def logfile(self, path):
        f = open(path, "w")
        self.files.append(f)
        return f

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for f in self.files:
            f.close()
        super().tearDown()

    def arrived(self, n, marker=None, timeout=60):
        """Waits until exactly n records carry the marker (and no more come within a moment
        after: a duplicate would show); returns them."""
        marker = marker or self.marker
        mine = lambda: [r for r in records(self.out) if marker in r[1]]  # noqa: E731
        ok = wait_until(lambda: len(mine()) >= n, timeout)
        got = mine()
        self.assertTrue(ok, f"{len(got)} of {n} messages arrived:\n" + self.agent.text()[-3000:])
        # A duplicate would arrive with the original's batch or the next one: one more poll of
        # the sink after the agent's counters settled.
        wait_until(lambda: False, 1.0)
        got = mine()
        self.assertEqual(len(got), n)
        return got

    def assert_once(self, got, bodies_needles):
        """Each needle is in exactly one record's body (not followed by a digit: "m 1" is not
        in "m 10")."""
        for needle in bodies_needles:
            pattern = re.compile(re.escape(needle) + r"(?!\d)")
            hits = [b for _, b in got if pattern.search(b)]
            self.assertEqual(len(hits), 1, f"{needle!r}: {hits[:3]}")

    # --- util-linux logger -------------------------------------------------------------------

    def test_logger_tcp_newline_and_octet_counted_rfc5424_with_sd_and_unicode(self):
        n = 200
        text = "".join(f"{self.marker} nl {i} h\u00e9llo w\u00f6rld \u2713\n" for i in range(n))
        logger("--tcp", "-n", "127.0.0.1", "-P", str(self.ports["tcp"]), "--rfc5424",
               "-t", "app", "-p", "local3.warning", "--sd-id", "ex@32473",
               "--sd-param", 'k="v"', stdin_text=text)
        text2 = "".join(f"{self.marker} oc {i} \u65e5\u672c\n" for i in range(n))
        logger("--tcp", "--octet-count", "-n", "127.0.0.1", "-P", str(self.ports["tcp"]),
               "--rfc5424", "-t", "app", "-p", "user.info", stdin_text=text2)
        got = self.arrived(2 * n)
        self.assert_once(got, [f"{self.marker} nl {i} h\u00e9llo w\u00f6rld \u2713"
                               for i in range(n)] + [f"{self.marker} oc {i} \u65e5\u672c"
                                                     for i in range(n)])
        now_ms = time.time() * 1000
        for h, body in got:
            self.assertEqual(h["src"], "tcp")
            self.assertEqual(h["version"], "1")
            self.assertEqual(h["host"], HOSTNAME)
            self.assertEqual(h["clientIp"], "127.0.0.1")
            self.assertNotIn("flume.syslog.status", h)
            self.assertLess(abs(int(h["timestamp"]) - now_ms), 120_000)
            self.assertTrue(body.startswith("app "), body)
            if " nl " in body:
                self.assertEqual((h["Facility"], h["Severity"], h["priority"]), ("19", "4", "156"))
                self.assertIn('[ex@32473 k="v"]', body)
            else:
                self.assertEqual((h["Facility"], h["Severity"], h["priority"]), ("1", "6", "14"))
            # Flume's body: the message after the host name, no trailing newline.
            self.assertFalse(body.endswith("\n"))

    def test_logger_udp_rfc3164_and_rfc5424(self):
        n = 100
        logger("--udp", "-n", "127.0.0.1", "-P", str(self.ports["udp"]), "--rfc3164",
               "-t", "bsd", "-p", "daemon.err",
               stdin_text="".join(f"{self.marker} bsd {i} caf\u00e9\n" for i in range(n)))
        self.arrived(n)
        logger("--udp", "-n", "127.0.0.1", "-P", str(self.ports["udp"]), "--rfc5424",
               "-t", "new", "-p", "mail.notice",
               stdin_text="".join(f"{self.marker} ietf {i}\n" for i in range(n)))
        got = self.arrived(2 * n)
        self.assert_once(got, [f"{self.marker} bsd {i} caf\u00e9" for i in range(n)]
                         + [f"{self.marker} ietf {i}" for i in range(n)])
        now_ms = time.time() * 1000
        for h, body in got:
            self.assertEqual(h["src"], "udp")
            self.assertEqual(h["host"], HOSTNAME)
            self.assertNotIn("flume.syslog.status", h)
            # RFC 3164 has no year and no zone: Flume resolves both; it must land near now.
            self.assertLess(abs(int(h["timestamp"]) - now_ms), 120_000)
            if " bsd " in body:
                self.assertEqual((h["Facility"], h["Severity"]), ("3", "3"))
                self.assertNotIn("version", h)
                self.assertTrue(body.startswith("bsd"), body)
            else:
                self.assertEqual((h["Facility"], h["Severity"], h["version"]), ("2", "5", "1"))

    def test_logger_into_multiport_two_ports(self):
        n = 100
        for idx, port in enumerate(self.ports["multi"]):
            args = ["--tcp", "-n", "127.0.0.1", "-P", str(port), "--rfc5424", "-t", "mp"]
            if idx == 1:
                args.insert(1, "--octet-count")
            logger(*args, stdin_text="".join(f"{self.marker} p{idx} {i}\n" for i in range(n)))
        got = self.arrived(2 * n)
        self.assert_once(got, [f"{self.marker} p{idx} {i}" for idx in (0, 1) for i in range(n)])
        for h, body in got:
            idx = 0 if " p0 " in body else 1
            self.assertEqual(h["port"], str(self.ports["multi"][idx]))
            self.assertEqual(h["host"], HOSTNAME)
            self.assertEqual(h["src"], "multi")

    def test_netcatudp_remote_address(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        n = 50
        for i in range(n):
            s.sendto(f"{self.marker} dgram {i}\nsecond line dropped".encode(),
                     ("127.0.0.1", self.ports["nc"]))
            if i % 10 == 9:
                self.arrived(i + 1, timeout=30)
        got = self.arrived(n)
        sender = s.getsockname()[1]
        s.close()
        self.assert_once(got, [f"{self.marker} dgram {i}" for i in range(n)])
        for h, body in got:
            # Java's InetSocketAddress.toString() of the sender, as Flume writes it.
            self.assertEqual(h["remote"], f"/127.0.0.1:{sender}")
            self.assertNotIn("second line", body)

    # --- rsyslog ------------------------------------------------------------------------------

    def test_rsyslog_omfwd_tcp_octet_counted_and_udp(self):
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        if not os.access(rsyslogd, os.X_OK):
            self.skipTest("rsyslogd is not installed (Debian package rsyslog)")
        work = os.path.join(self.dir, "rsyslog")
        os.makedirs(work)
        inport = free_port()
        conf = os.path.join(work, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write(f"""global(workDirectory="{work}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{inport}" ruleset="fwd")
ruleset(name="fwd") {{
  action(type="omfwd" target="127.0.0.1" port="{self.ports['tcp']}" protocol="tcp"
         TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfwd" target="127.0.0.1" port="{self.ports['udp']}" protocol="udp"
         template="RSYSLOG_SyslogProtocol23Format")
}}
""")
        log = self.logfile(os.path.join(work, "rsyslogd.log"))
        self.procs.append(subprocess.Popen(
            [rsyslogd, "-n", "-f", conf, "-i", os.path.join(work, "pid")],
            stdout=log, stderr=subprocess.STDOUT))
        self.assertTrue(port_open(inport), "rsyslogd did not listen")
        n = 300
        logger("--tcp", "-n", "127.0.0.1", "-P", str(inport), "--rfc5424", "-t", "viarsys",
               "-p", "local0.info",
               stdin_text="".join(f"{self.marker} r {i} \u00fcml\u00e4ut\n" for i in range(n)))
        got = self.arrived(2 * n)
        for src in ("tcp", "udp"):
            mine = [(h, b) for h, b in got if h["src"] == src]
            self.assertEqual(len(mine), n, src)
            self.assert_once(mine, [f"{self.marker} r {i} \u00fcml\u00e4ut" for i in range(n)])
            for h, body in mine:
                self.assertEqual((h["Facility"], h["Severity"], h["version"]), ("16", "6", "1"))
                self.assertEqual(h["host"], HOSTNAME)
                self.assertNotIn("flume.syslog.status", h)
                self.assertTrue(body.startswith("viarsys "), body)

    # --- syslog-ng ----------------------------------------------------------------------------

    def test_syslog_ng_network_and_syslog_destinations(self):
        exe, extra, env = find_syslog_ng()
        if not exe:
            self.skipTest("no syslog-ng binary: Debian's syslog-ng-core conflicts with rsyslog; "
                          "unpack it (apt-get download syslog-ng-core; dpkg -x) and set "
                          "SLUICE_SYSLOG_NG to its usr/sbin/syslog-ng")
        work = os.path.join(self.dir, "syslog-ng")
        os.makedirs(work)
        inport = free_port()
        conf = os.path.join(work, "syslog-ng.conf")
        with open(conf, "w") as f:
            f.write(f"""@version: 3.38
options {{ keep-hostname(yes); use-dns(no); }};
source s_in {{ syslog(ip("127.0.0.1") port({inport}) transport("tcp")); }};
destination d_net {{ network("127.0.0.1" port({self.ports['multi'][0]}) transport("tcp")); }};
destination d_sys {{ syslog("127.0.0.1" port({self.ports['tcp']}) transport("tcp")); }};
log {{ source(s_in); destination(d_net); destination(d_sys); }};
""")
        args = [exe, "-F", "-f", conf, "--persist-file", os.path.join(work, "persist"),
                "--pidfile", os.path.join(work, "pid"), "--control", os.path.join(work, "ctl"),
                "--no-caps", *extra]
        log = self.logfile(os.path.join(work, "syslog-ng.log"))
        self.procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env))
        if not port_open(inport):
            with open(os.path.join(work, "syslog-ng.log")) as f:
                self.fail("syslog-ng did not listen: " + f.read())
        n = 300
        logger("--tcp", "--octet-count", "-n", "127.0.0.1", "-P", str(inport), "--rfc5424",
               "-t", "viang", "-p", "local1.notice",
               stdin_text="".join(f"{self.marker} g {i} \u00e7a va\n" for i in range(n)))
        try:
            got = self.arrived(2 * n)
        except AssertionError:
            with open(os.path.join(work, "syslog-ng.log")) as f:
                print("syslog-ng's log:\n" + f.read()[-3000:])
            raise
        net = [(h, b) for h, b in got if h["src"] == "multi"]
        sysl = [(h, b) for h, b in got if h["src"] == "tcp"]
        self.assertEqual((len(net), len(sysl)), (n, n))
        needles = [f"{self.marker} g {i} \u00e7a va" for i in range(n)]
        self.assert_once(net, needles)
        self.assert_once(sysl, needles)
        for h, body in got:
            self.assertEqual((h["Facility"], h["Severity"]), ("17", "5"))
            self.assertEqual(h["host"], HOSTNAME)
            self.assertNotIn("flume.syslog.status", h)
            self.assertIn("viang", body)
        for h, _ in sysl:  # syslog(): RFC 5424, octet-counted
            self.assertEqual(h["version"], "1")

    # --- bad input ----------------------------------------------------------------------------

    def test_bad_input_closes_only_the_bad_connection(self):
        mport = self.agent.monitor_port()
        port = self.ports["tcp"]
        good = socket.create_connection(("127.0.0.1", port))
        good.sendall(f"<13>1 - - - - - - {self.marker} good before\n".encode())
        self.arrived(1)
        # Garbage, then an octet count no frame can have (above 64 MiB; ten digits, since a
        # longer number is read as text): unreadable from there, so closed.
        bad = socket.create_connection(("127.0.0.1", port))
        bad.sendall(os.urandom(2000).replace(b"\n", b" ") + b"\n9999999999 <13>1 - - -\n")
        bad.settimeout(15)
        self.assertEqual(bad.recv(1), b"", "the bad connection was not closed")
        bad.close()
        # A 10 MB line: delivered cut at eventSize (Incomplete, then Invalid pieces), as Flume
        # does; the connection and the agent stay up.
        big = socket.create_connection(("127.0.0.1", port))
        big.sendall(b"<13>1 - - - - - - " + self.marker.encode() + b" big " +
                    b"x" * (10 << 20) + b"\n")
        # A client that stalls inside a message is closed after messageTimeout (3 s).
        stall = socket.create_connection(("127.0.0.1", port))
        stall.sendall(b"<13>1 - - - - - - half a mess")
        stall.settimeout(20)
        self.assertEqual(stall.recv(1), b"", "the stalled connection was not closed")
        stall.close()
        good.sendall(f"<13>1 - - - - - - {self.marker} good after\n".encode())
        big.close()
        ok = wait_until(lambda: any(f"{self.marker} good after" in b
                                    for _, b in records(self.out)), 60)
        self.assertTrue(ok, self.agent.text()[-3000:])
        self.assertTrue(self.agent.alive())
        src = metrics(mport)["SOURCE.tcp"]
        self.assertEqual(int(src["FramingErrorCount"]), 1)
        self.assertEqual(int(src["ConnectionTimedOutCount"]), 1)
        self.assertGreaterEqual(int(src["IncompleteMessageCount"]), 1)
        recs = records(self.out)
        incomplete = [h for h, b in recs if h.get("flume.syslog.status") == "Incomplete"]
        self.assertGreaterEqual(len(incomplete), 1)
        self.assert_once([r for r in recs if self.marker in r[1]],
                         [f"{self.marker} good before", f"{self.marker} good after"])
        good.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
