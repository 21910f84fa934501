#!/usr/bin/env python3
"""End-to-end tests of the thrift source and sink with the real binary and real sockets:

- interop with a client and a server that Debian's thrift-compiler generates from
  plugins/common/thrift/flume.thrift (tests/support/thrift_peer.py, Apache Thrift's Python
  library): the client against sluice's source in the compact and the binary protocol, with
  headers and binary bodies checked at the far end; sluice's sink against the server, which
  answers FAILED, hangs, or goes down and comes back: nothing acknowledged is lost or doubled;
- two agents chained over Thrift (netcat -> memory -> thrift sink => thrift source -> memory ->
  file_roll) with exact line counts, plain and over TLS with the binary protocol;
- bad input on the port (garbage, a huge frame length, a negative one, a frame that is no Thrift
  call, the other protocol, truncated frames, a stalled client): the agent survives, the bad
  connections are closed and counted, a good client keeps flowing;
- config checking through the real loader (Kerberos refused, unknown and missing keys)."""

import os
import random
import socket
import ssl
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "tests", "support"))
from sluice_test import AgentTestCase, lines_in, run, send_acked, wait_until  # noqa: E402
import thrift_peer  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The avro tests' readers of avro_event files, /metrics and their self-signed certificate.
from test_avro import avro_count, avro_records, make_certs, metrics  # noqa: E402

BATCH = 100


def tier2_conf(path, port, out, extra="", serializer="TEXT", capacity=100000, tx=1000):
    with open(path, "w") as f:
        f.write(f"""a2.sources = r1
a2.channels = c1
a2.sinks = k1
a2.sources.r1.type = thrift
a2.sources.r1.bind = 127.0.0.1
a2.sources.r1.port = {port}
a2.sources.r1.channels = c1
{extra}
a2.channels.c1.type = memory
a2.channels.c1.capacity = {capacity}
a2.channels.c1.transactionCapacity = {tx}
a2.sinks.k1.type = file_roll
a2.sinks.k1.channel = c1
a2.sinks.k1.sink.directory = {out}
a2.sinks.k1.sink.rollInterval = 0
a2.sinks.k1.sink.batchSize = {BATCH}
a2.sinks.k1.sink.serializer = {serializer}
""")
    return path


def tier1_conf(path, thrift_port, extra=""):
    """netcat source r1 (port 0) -> memory -> thrift sink k1 to thrift_port."""
    with open(path, "w") as f:
        f.write(f"""a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.batchSize = 100
a1.sources.r1.max-line-length = 1024
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = thrift
a1.sinks.k1.channel = c1
a1.sinks.k1.hostname = 127.0.0.1
a1.sinks.k1.port = {thrift_port}
a1.sinks.k1.batch-size = {BATCH}
a1.sinks.k1.connect-timeout = 2000
a1.sinks.k1.request-timeout = 3000
{extra}
""")
    return path


def source_counter(agent, name):
    return int(metrics(agent.monitor_port())["SOURCE.r1"][name])


def frame(payload):
    return struct.pack("!i", len(payload)) + payload


class ThriftTest(AgentTestCase):
    dir_prefix = "sluice-thrift-"

    def start_tier2(self, out, port=0, log_name="tier2.log", monitor=False, **kw):
        conf = tier2_conf(os.path.join(self.dir, "tier2.properties"), port, out, **kw)
        extra = ["--monitor-port", "0"] if monitor else []
        agent = self.start_agent(conf, log_name=log_name, name="a2", extra_args=extra)
        return agent, agent.port_of("r1")

    # ---- the generated Python client against sluice's source ----

    def client_to_source(self, protocol):
        out = os.path.join(self.dir, "out-" + protocol)
        extra = f"a2.sources.r1.protocol = {protocol}" if protocol != "compact" else ""
        agent, port = self.start_tier2(out, extra=extra, serializer="avro_event",
                                       log_name=f"tier2-{protocol}.log")
        c = thrift_peer.ThriftClient(port, protocol)
        sent = [({"seq": str(i), "host": "h\u00e9"}, f"event {i}".encode()) for i in range(200)]
        sent.append(({}, bytes(range(256))))
        sent.append(({"empty": ""}, b""))
        self.assertEqual(c.append_batch(sent[:100]), "OK")
        self.assertEqual(c.append_batch(sent[100:]), "OK")
        self.assertEqual(c.append({"one": "1"}, b"single"), "OK")
        self.assertEqual(c.append_batch([]), "OK")
        c.close()
        want = sent + [({"one": "1"}, b"single")]
        self.assertTrue(wait_until(lambda: avro_count(out) >= len(want), 30), agent.text())
        self.assertEqual(agent.stop(), 0)
        self.assertEqual(avro_records(out), want)
        self.assertIn(f"{protocol} protocol", agent.text())

    def test_python_client_to_source_compact(self):
        self.client_to_source("compact")

    def test_python_client_to_source_binary(self):
        self.client_to_source("binary")

    def test_refused_batch_is_answered_failed(self):
        out = os.path.join(self.dir, "out")
        agent, port = self.start_tier2(out, monitor=True, tx=100)
        c = thrift_peer.ThriftClient(port)
        # More than the channel's transactionCapacity: the channel refuses, nothing is put.
        self.assertEqual(c.append_batch([({}, b"too many %d" % i) for i in range(150)]), "FAILED")
        sent = [f"fits {i}" for i in range(100)]
        self.assertEqual(c.append_batch([({}, s.encode()) for s in sent]), "OK")
        c.close()
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(sent), 30), agent.text())
        self.assertEqual(source_counter(agent, "ChannelWriteFail"), 1)
        self.assertEqual(source_counter(agent, "EventAcceptedCount"), 100)
        self.assertEqual(source_counter(agent, "EventReceivedCount"), 250)
        self.assertEqual(agent.stop(), 0)
        self.assertEqual(lines_in(out), sent)

    # ---- sluice's sink against the generated Python server ----

    def sink_to_server(self, protocol):
        server = thrift_peer.ThriftServer(protocol)
        self.addCleanup(server.stop)
        conf = tier1_conf(os.path.join(self.dir, f"tier1-{protocol}.properties"), server.port,
                          extra=f"a1.sinks.k1.protocol = {protocol}")
        agent = self.start_agent(conf, log_name=f"tier1-{protocol}.log")
        nport = agent.port_of("r1")
        sent = [f"line {i:05d}" for i in range(1000)]
        self.assertEqual(send_acked(nport, sent), ["OK"] * len(sent))
        self.assertTrue(wait_until(lambda: len(server.received()) >= len(sent), 30), agent.text())
        self.assertEqual([b.decode() for _, b in server.received()], sent)
        # The server's channels are full: it answers FAILED; nothing is lost, nothing doubled.
        server.mode = "failed"
        more = [f"later {i}" for i in range(50)]
        self.assertEqual(send_acked(nport, more), ["OK"] * len(more))
        self.assertTrue(wait_until(lambda: "answered FAILED" in agent.text(), 30), agent.text())
        server.mode = "ok"
        self.assertTrue(wait_until(lambda: len(server.received()) >= len(sent) + len(more), 30),
                        agent.text())
        self.assertEqual(agent.stop(), 0)
        self.assertEqual([b.decode() for _, b in server.received()], sent + more)
        self.assertEqual(server.connections, 1)  # FAILED keeps the connection

    def test_sink_to_python_server_compact(self):
        self.sink_to_server("compact")

    def test_sink_to_python_server_binary(self):
        self.sink_to_server("binary")

    def test_sink_to_server_that_hangs_then_goes_down(self):
        server = thrift_peer.ThriftServer()
        port = server.port
        conf = tier1_conf(os.path.join(self.dir, "tier1.properties"), port)
        agent = self.start_agent(conf, log_name="tier1.log")
        nport = agent.port_of("r1")
        first = [f"first {i}" for i in range(300)]
        self.assertEqual(send_acked(nport, first), ["OK"] * len(first))
        self.assertTrue(wait_until(lambda: len(server.received()) >= len(first), 30), agent.text())
        # It hangs: request-timeout (3 s) rolls the batch back and drops the connection.
        server.mode = "hang"
        hung = [f"hung {i}" for i in range(250)]
        self.assertEqual(send_acked(nport, hung), ["OK"] * len(hung))
        self.assertTrue(wait_until(lambda: "request-timeout (3000 ms)" in agent.text(), 30),
                        agent.text())
        server.mode = "ok"
        server.release()
        self.assertTrue(wait_until(lambda: len(server.received()) >= len(first) + len(hung), 30),
                        agent.text())
        # It goes down: connections fail, the channel keeps the events ...
        server.stop()
        down = [f"down {i}" for i in range(200)]
        self.assertEqual(send_acked(nport, down), ["OK"] * len(down))
        self.assertTrue(wait_until(lambda: "cannot connect to 127.0.0.1:%d" % port in agent.text(),
                                   30), agent.text())
        # ... until it is back on the same port.
        server2 = thrift_peer.ThriftServer(port=port)
        self.addCleanup(server2.stop)
        self.assertTrue(wait_until(lambda: len(server2.received()) >= len(down), 60), agent.text())
        self.assertEqual(agent.stop(), 0)
        got = [b.decode() for _, b in server.received() + server2.received()]
        self.assertEqual(got, first + hung + down)  # everything, once, in order

    # ---- sluice to sluice ----

    def test_two_tier_chain(self):
        out = os.path.join(self.dir, "out")
        t2, tport = self.start_tier2(out, monitor=True)
        conf = tier1_conf(os.path.join(self.dir, "tier1.properties"), tport)
        t1 = self.start_agent(conf, log_name="tier1.log")
        nport = t1.port_of("r1")
        sent = [f"tier line {i:06d} " + "y" * 80 for i in range(20000)]
        self.assertEqual(send_acked(nport, sent, chunk=500), ["OK"] * len(sent))
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(sent), 60),
                        t1.text()[-3000:] + t2.text()[-3000:])
        self.assertEqual(source_counter(t2, "EventAcceptedCount"), len(sent))
        self.assertEqual(source_counter(t2, "OpenConnectionCount"), 1)
        self.assertEqual(t1.stop(), 0)
        self.assertEqual(t2.stop(), 0)
        self.assertEqual(lines_in(out), sent)  # exact: every line once, in order

    def test_tls_binary_chain_and_python_tls_client(self):
        cert, key, p12 = make_certs(self.dir)
        out = os.path.join(self.dir, "out")
        t2, tport = self.start_tier2(out, extra="a2.sources.r1.protocol = binary\n"
                                               "a2.sources.r1.ssl = true\n"
                                               f"a2.sources.r1.keystore = {p12}\n"
                                               "a2.sources.r1.keystore-type = PKCS12\n"
                                               "a2.sources.r1.keystore-password = changeit")
        # Python's ssl (verifying certificate and host name) under the generated client.
        ctx = ssl.create_default_context(cafile=cert)
        c = thrift_peer.ThriftClient(tport, "binary", ssl_context=ctx)
        self.assertEqual(c.append_batch([({"via": "python"}, b"py %d" % i) for i in range(100)]),
                         "OK")
        c.close()
        # A plain client on the TLS port is dropped.
        s = socket.create_connection(("127.0.0.1", tport))
        s.sendall(frame(b"\x80\x01\x00\x01" + b"\x00" * 40))
        s.settimeout(10)
        try:
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass
        s.close()
        conf = tier1_conf(os.path.join(self.dir, "tier1.properties"), tport,
                          extra="a1.sinks.k1.protocol = binary\n"
                                "a1.sinks.k1.ssl = true\n"
                                f"a1.sinks.k1.truststore = {cert}\n"
                                "a1.sinks.k1.truststore-type = PEM")
        t1 = self.start_agent(conf, log_name="tier1.log")
        nport = t1.port_of("r1")
        sent = [f"tls line {i:05d}" for i in range(3000)]
        self.assertEqual(send_acked(nport, sent, chunk=500), ["OK"] * len(sent))
        want = [f"py {i}" for i in range(100)] + sent
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(want), 60),
                        t1.text()[-3000:] + t2.text()[-3000:])
        self.assertIn("connected to 127.0.0.1:%d (TLS)" % tport, t1.text())
        self.assertEqual(t1.text().count("connected to"), 1, t1.text())
        self.assertNotIn("changeit", t1.text() + t2.text())  # secrets stay out of the log
        self.assertEqual(t1.stop(), 0, t1.text()[-3000:])
        self.assertEqual(t2.stop(), 0, t2.text()[-3000:])
        self.assertEqual(lines_in(out), want)

    # ---- hostile input ----

    def test_bad_input_does_not_hurt_other_clients(self):
        out = os.path.join(self.dir, "out")
        started = time.monotonic()
        agent, port = self.start_tier2(out, monitor=True,
                                       extra="a2.sources.r1.max-frame-size = 1048576\n"
                                             "a2.sources.r1.frame-timeout = 1000\n"
                                             "a2.sources.r1.threads = 1")
        good = thrift_peer.ThriftClient(port)
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(frame(b"\x82" * 5000)[:3000])  # part of a frame, then silence
        bad_inputs = [
            b"\xde\xad\xbe\xef" + random.Random(7).randbytes(4096),  # garbage
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",           # another protocol (a huge length)
            struct.pack("!i", 0x7ffffff0),                 # a huge frame
            struct.pack("!i", -5) + b"abcd",               # a negative length
            frame(b"\xee" * 100),                          # a frame that is no Thrift call
        ]
        closed = []
        for data in bad_inputs:
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(data)
            s.settimeout(10)
            try:
                closed.append(s.recv(10) == b"")
            except ConnectionResetError:
                closed.append(True)
            s.close()
            self.assertEqual(good.append_batch([({}, f"between {len(closed)}".encode())]), "OK")
        self.assertEqual(closed, [True] * len(bad_inputs))
        # The binary protocol on this compact port: the call fails, the log says what to set.
        binary = thrift_peer.ThriftClient(port, "binary", timeout_ms=10000)
        with self.assertRaises(Exception):
            binary.append_batch([({}, b"wrong protocol")])
        binary.close()
        # Truncated frames: the client goes away mid-frame.
        for cut in (2, 10, 200):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(frame(b"\x00" * 1000)[:cut])
            s.close()
        sent = [f"good {i}" for i in range(500)]
        for i in range(0, 500, 50):
            self.assertEqual(good.append_batch([({}, x.encode()) for x in sent[i:i + 50]]), "OK")
        # The stalled client is closed after frame-timeout.
        stalled.settimeout(10)
        try:
            self.assertEqual(stalled.recv(10), b"")
        except ConnectionResetError:
            pass
        stalled.close()
        want = [f"between {i}" for i in range(1, len(bad_inputs) + 1)] + sent
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(want), 30), agent.text())
        self.assertTrue(wait_until(lambda: source_counter(agent, "EventReadFail") >=
                                   len(bad_inputs) + 1 + 3, 10), agent.text())
        self.assertEqual(source_counter(agent, "ConnectionTimedOutCount"), 1)
        self.assertTrue(wait_until(lambda: source_counter(agent, "OpenConnectionCount") == 1, 10))
        good.close()
        self.assertTrue(wait_until(lambda: source_counter(agent, "OpenConnectionCount") == 0, 10))
        self.assertIn("set protocol = binary", agent.text())
        self.assertTrue(agent.alive())
        self.assertEqual(agent.stop(), 0)
        self.assertEqual(lines_in(out), want)
        # Rate-limited: one line per second at most per kind, not one per bad frame.
        elapsed = time.monotonic() - started
        self.assertLessEqual(agent.text().count("closing the connection from"), int(elapsed) + 1)

    # ---- configuration through the real loader ----

    def test_config_checks(self):
        def validate(path, name):
            r = run("validate", "-n", name, "-f", path)
            return r.returncode, r.stdout + r.stderr

        conf = tier2_conf(os.path.join(self.dir, "krb.properties"), 4141, self.dir,
                          extra="a2.sources.r1.kerberos = true\n"
                                "a2.sources.r1.agent-principal = flume/_HOST@EXAMPLE.COM")
        rc, text = validate(conf, "a2")
        self.assertNotEqual(rc, 0)
        self.assertIn("a2.sources.r1.kerberos: Kerberos", text)
        self.assertIn("not supported", text)
        conf = tier1_conf(os.path.join(self.dir, "krb1.properties"), 4141,
                          extra="a1.sinks.k1.kerberos = true")
        rc, text = validate(conf, "a1")
        self.assertNotEqual(rc, 0)
        self.assertIn("a1.sinks.k1.kerberos: Kerberos", text)
        # Principals without kerberos: accepted, with a warning that they are ignored.
        conf = tier2_conf(os.path.join(self.dir, "principal.properties"), 4141, self.dir,
                          extra="a2.sources.r1.agent-keytab = /etc/flume.keytab")
        rc, text = validate(conf, "a2")
        self.assertEqual(rc, 0, text)
        self.assertIn("agent-keytab", text)
        # An unknown key: named with a hint, in both formats (an error in TOML).
        conf = tier1_conf(os.path.join(self.dir, "typo.properties"), 4141,
                          extra="a1.sinks.k1.batchSize = 100")
        rc, text = validate(conf, "a1")
        self.assertIn("a1.sinks.k1.batchSize", text)
        self.assertIn("did you mean 'batch-size'", text)
        toml = os.path.join(self.dir, "typo.toml")
        with open(toml, "w") as f:
            f.write('[a2.sources.r1]\ntype = "thrift"\nbind = "127.0.0.1"\nport = 0\n'
                    'channels = ["c1"]\nprotocl = "binary"\n'
                    '[a2.channels.c1]\ntype = "memory"\n'
                    '[a2.sinks.k1]\ntype = "null"\nchannel = "c1"\n')
        rc, text = validate(toml, "a2")
        self.assertNotEqual(rc, 0)
        self.assertIn("a2.sources.r1.protocl", text)
        self.assertIn("did you mean 'protocol'", text)
        # A missing required key is named.
        conf = tier1_conf(os.path.join(self.dir, "noport.properties"), 4141)
        with open(conf) as f:
            body = f.read().replace("a1.sinks.k1.port = 4141\n", "")
        with open(conf, "w") as f:
            f.write(body)
        rc, text = validate(conf, "a1")
        self.assertNotEqual(rc, 0)
        self.assertIn("port", text)
        r = run("describe", "org.apache.flume.source.ThriftSource")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("max-frame-size", r.stdout)
        r = run("describe", "org.apache.flume.sink.ThriftSink")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("connection-reset-interval", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
