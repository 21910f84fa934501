#!/usr/bin/env python3
"""End-to-end tests of the avro source and sink with the real binary and real sockets:

- interop with an independent Avro RPC peer (tests/support/avro_peer.py, Apache Avro's Python
  library): its client against sluice's source, sluice's sink against its server, both through
  the NONE handshake path, plain and deflate;
- two agents chained (netcat -> memory -> avro sink => avro source -> memory -> file_roll) with
  exact line counts, and three sinks fanning into one source;
- kill -9 of the second tier mid-stream, with file channels: every line the first tier
  acknowledged arrives, duplicates bounded by the batches in flight;
- bad frames (garbage, huge lengths, truncated frames, a close mid-frame, a stalled client) do
  not hurt other clients;
- TLS: Python's ssl client to the source, the sink to a Python TLS server, sluice to sluice
  over TLS with deflate, an untrusted certificate;
- config checking through the real loader (an unknown key: a warning in .properties, an error
  under --strict; ssl = true without a key store)."""

import glob
import hashlib
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "tests", "support"))
from sluice_test import AgentTestCase, lines_in, run, send_acked, wait_until  # noqa: E402
import avro_peer  # noqa: E402
import avro.datafile  # noqa: E402  (importable once avro_peer found Debian's package)
import avro.protocol  # noqa: E402

BATCH = 100


def tier2_conf(path, port, out, channel="memory", workdir=None, extra="", serializer="TEXT"):
    if channel == "memory":
        ch = """a2.channels.c1.type = memory
a2.channels.c1.capacity = 100000
a2.channels.c1.transactionCapacity = 1000"""
    else:
        ch = f"""a2.channels.c1.type = file
a2.channels.c1.checkpointDir = {workdir}/t2-checkpoint
a2.channels.c1.dataDirs = {workdir}/t2-data
a2.channels.c1.capacity = 200000
a2.channels.c1.transactionCapacity = 1000
a2.channels.c1.minimumRequiredSpace = 0"""
    with open(path, "w") as f:
        f.write(f"""a2.sources = r1
a2.channels = c1
a2.sinks = k1
a2.sources.r1.type = avro
a2.sources.r1.bind = 127.0.0.1
a2.sources.r1.port = {port}
a2.sources.r1.channels = c1
{extra}
{ch}
a2.sinks.k1.type = file_roll
a2.sinks.k1.channel = c1
a2.sinks.k1.sink.directory = {out}
a2.sinks.k1.sink.rollInterval = 0
a2.sinks.k1.sink.batchSize = {BATCH}
a2.sinks.k1.sink.serializer = {serializer}
""")
    return path


def tier1_conf(path, avro_port, n=1, channel="memory", workdir=None, extra=""):
    """n times netcat source r<i> (port 0) -> channel c<i> -> avro sink k<i>, all sinks to
    avro_port; agent.port_of(f"r{i}") says where each netcat source listens."""
    lines = [f"a1.sources = {' '.join(f'r{i}' for i in range(n))}",
             f"a1.channels = {' '.join(f'c{i}' for i in range(n))}",
             f"a1.sinks = {' '.join(f'k{i}' for i in range(n))}"]
    for i in range(n):
        lines += [f"a1.sources.r{i}.type = netcat", f"a1.sources.r{i}.bind = 127.0.0.1",
                  f"a1.sources.r{i}.port = 0", f"a1.sources.r{i}.batchSize = 100",
                  f"a1.sources.r{i}.max-line-length = 1024", f"a1.sources.r{i}.channels = c{i}"]
        if channel == "memory":
            lines += [f"a1.channels.c{i}.type = memory", f"a1.channels.c{i}.capacity = 100000",
                      f"a1.channels.c{i}.transactionCapacity = 1000"]
        else:
            lines += [f"a1.channels.c{i}.type = file",
                      f"a1.channels.c{i}.checkpointDir = {workdir}/t1-checkpoint{i}",
                      f"a1.channels.c{i}.dataDirs = {workdir}/t1-data{i}",
                      f"a1.channels.c{i}.capacity = 200000",
                      f"a1.channels.c{i}.transactionCapacity = 1000",
                      f"a1.channels.c{i}.minimumRequiredSpace = 0"]
        lines += [f"a1.sinks.k{i}.type = avro", f"a1.sinks.k{i}.channel = c{i}",
                  f"a1.sinks.k{i}.hostname = 127.0.0.1", f"a1.sinks.k{i}.port = {avro_port}",
                  f"a1.sinks.k{i}.batch-size = {BATCH}",
                  f"a1.sinks.k{i}.connect-timeout = 2000",
                  f"a1.sinks.k{i}.request-timeout = 5000"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n" + extra + "\n")
    return path


def avro_records(directory):
    """Every (headers, body) of every avro_event file in directory, files in name order."""
    out = []
    for path in sorted(glob.glob(os.path.join(directory, "*"))):
        with open(path, "rb") as f:
            reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
            out.extend((r["headers"], r["body"]) for r in reader)
    return out


def avro_count(directory):
    """How many records can be read so far (a block being written may be incomplete)."""
    try:
        return len(avro_records(directory))
    except Exception:  # noqa: BLE001 - a torn read while the sink writes
        return -1


def make_certs(directory):
    """A self-signed certificate for CN=localhost (openssl command line): PEM cert and key, and a
    PKCS12 store of both with password changeit. Returns (cert_pem, key_pem, p12)."""
    cert, key, p12 = (os.path.join(directory, n) for n in ("cert.pem", "key.pem", "ks.p12"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkcs12", "-export", "-in", cert, "-inkey", key, "-out", p12,
                    "-passout", "pass:changeit"], check=True, capture_output=True)
    return cert, key, p12


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return json.loads(r.read().decode())


class AvroTest(AgentTestCase):
    dir_prefix = "sluice-avro-"

    def start_tier2(self, out, port=0, log_name="tier2.log", monitor=False, **kw):
        """Starts the second tier; its avro source binds `port` (0: a free one, for a first
        start; the port of the agent before it for a restart). Returns (agent, its port)."""
        conf = tier2_conf(os.path.join(self.dir, "tier2.properties"), port, out,
                          workdir=self.dir, **kw)
        extra = ["--monitor-port", "0"] if monitor else []
        agent = self.start_agent(conf, log_name=log_name, name="a2", extra_args=extra)
        return agent, agent.port_of("r1")

    # ---- interop with Apache Avro's Python implementation ----

    def test_python_client_to_source(self):
        out = os.path.join(self.dir, "out")
        agent, port = self.start_tier2(out, serializer="avro_event")
        c = avro_peer.AvroClient(port)
        sent = [({"seq": str(i), "host": "h\u00e9"}, f"event {i}".encode()) for i in range(100)]
        sent.append(({}, bytes(range(256))))
        self.assertEqual(c.append_batch(sent), "OK")
        # Its protocol text differs from Java's, so the first handshake took the NONE path.
        self.assertEqual(c.matches, ["NONE", "BOTH"])
        text, md5 = c.server_protocol
        self.assertEqual(hashlib.md5(text.encode()).digest(), md5)
        proto = avro.protocol.parse(text)
        self.assertEqual(proto.fullname, "org.apache.flume.source.avro.AvroSourceProtocol")
        self.assertEqual(set(proto.messages), {"append", "appendBatch"})
        self.assertEqual(c.append({"one": "1"}, b"single"), "OK")
        for i in range(5):  # later requests on the connection: no handshake
            self.assertEqual(c.append_batch([({}, f"more {i}".encode())]), "OK")
        self.assertEqual(c.matches, ["NONE", "BOTH"])
        c.close()
        # A client that sends sluice's own hash (a Java peer with the same text) matches at once.
        c2 = avro_peer.AvroClient(port, client_hash=md5)
        c2.server_hash = md5
        self.assertEqual(c2.append_batch([({}, b"java-like")]), "OK")
        self.assertEqual(c2.matches, ["BOTH"])
        c2.close()
        want = sent + [({"one": "1"}, b"single")] + [({}, f"more {i}".encode()) for i in range(5)]
        want.append(({}, b"java-like"))
        self.assertTrue(wait_until(lambda: avro_count(out) >= len(want), 30), agent.text())
        self.assertEqual(agent.stop(), 0)
        self.assertEqual(avro_records(out), want)

    def test_python_client_to_source_deflate(self):
        out = os.path.join(self.dir, "out")
        agent, port = self.start_tier2(out, extra="a2.sources.r1.compression-type = deflate")
        c = avro_peer.AvroClient(port, deflate=True)
        sent = [f"deflated line {i} " + "x" * (i % 50) for i in range(2000)]
        for i in range(0, len(sent), 250):
            self.assertEqual(c.append_batch([({}, s.encode()) for s in sent[i:i + 250]]), "OK")
        c.close()
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(sent), 30), agent.text())
        self.assertEqual(agent.stop(), 0)
        self.assertEqual(lines_in(out), sent)

    def sink_to_server(self, deflate):
        server = avro_peer.AvroServer(deflate=deflate)
        self.addCleanup(server.stop)
        extra = "a1.sinks.k0.compression-type = deflate\na1.sinks.k0.compression-level = 9" \
            if deflate else ""
        conf = tier1_conf(os.path.join(self.dir, "tier1.properties"), server.port, extra=extra)
        agent = self.start_agent(conf, log_name="tier1.log")
        nport = agent.port_of("r0")
        sent = [f"line {i:05d}" for i in range(1000)]
        self.assertEqual(send_acked(nport, sent), ["OK"] * len(sent))
        self.assertTrue(wait_until(lambda: len(server.received()) >= len(sent), 30), agent.text())
        self.assertEqual([b.decode() for _, b in server.received()], sent)
        # Python's protocol hash is not sluice's: NONE first, then sluice's text, which the
        # Python server parsed as an Avro protocol and read every request with.
        self.assertEqual(server.matches[:2], ["NONE", "BOTH"])
        self.assertEqual(len(server.client_texts), 1)
        # The server's channels are full: nothing is lost, nothing doubled.
        server.fail = True
        more = [f"later {i}" for i in range(50)]
        self.assertEqual(send_acked(nport, more), ["OK"] * len(more))
        self.assertTrue(wait_until(lambda: "answered FAILED" in agent.text(), 30), agent.text())
        server.fail = False
        self.assertTrue(wait_until(lambda: len(server.received()) >= len(sent) + len(more), 30),
                        agent.text())
        self.assertEqual(agent.stop(), 0)
        self.assertEqual([b.decode() for _, b in server.received()], sent + more)

    def test_sink_to_python_server(self):
        self.sink_to_server(deflate=False)

    def test_sink_to_python_server_deflate(self):
        self.sink_to_server(deflate=True)

    # ---- sluice to sluice ----

    def test_two_tier_chain(self):
        out = os.path.join(self.dir, "out")
        t2, aport = self.start_tier2(out)
        conf = tier1_conf(os.path.join(self.dir, "tier1.properties"), aport)
        t1 = self.start_agent(conf, log_name="tier1.log")
        nport = t1.port_of("r0")
        sent = [f"tier line {i:06d} " + "y" * 80 for i in range(20000)]
        self.assertEqual(send_acked(nport, sent, chunk=500), ["OK"] * len(sent))
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(sent), 60),
                        t1.text()[-3000:] + t2.text()[-3000:])
        self.assertEqual(t1.stop(), 0)
        self.assertEqual(t2.stop(), 0)
        self.assertEqual(lines_in(out), sent)  # exact: every line once, in order

    def test_fan_in_three_sinks(self):
        out = os.path.join(self.dir, "out")
        t2, aport = self.start_tier2(out, monitor=True)
        conf = tier1_conf(os.path.join(self.dir, "tier1.properties"), aport, n=3)
        t1 = self.start_agent(conf, log_name="tier1.log")
        nports = [t1.port_of(f"r{i}") for i in range(3)]
        sent = {p: [f"src{k} line {i:05d}" for i in range(3000)] for k, p in enumerate(nports)}
        results = {}
        threads = [threading.Thread(target=lambda p=p: results.__setitem__(
            p, send_acked(p, sent[p], chunk=200))) for p in nports]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for p in nports:
            self.assertEqual(results[p], ["OK"] * len(sent[p]))
        total = sum(len(v) for v in sent.values())
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= total, 60), t2.text()[-3000:])
        src = metrics(t2.monitor_port())["SOURCE.r1"]
        self.assertEqual(int(src["EventAcceptedCount"]), total)
        self.assertEqual(int(src["OpenConnectionCount"]), 3)
        self.assertEqual(t1.stop(), 0)
        self.assertEqual(t2.stop(), 0)
        got = lines_in(out)
        self.assertEqual(sorted(got), sorted(l for v in sent.values() for l in v))
        for k, p in enumerate(nports):  # each sink's lines keep their order
            self.assertEqual([l for l in got if l.startswith(f"src{k} ")], sent[p])

    def test_kill9_second_tier_loses_no_acknowledged_line(self):
        out = os.path.join(self.dir, "out")
        t2, aport = self.start_tier2(out, channel="file", log_name="tier2-0.log")
        conf = tier1_conf(os.path.join(self.dir, "tier1.properties"), aport, channel="file",
                          workdir=self.dir)
        t1 = self.start_agent(conf, log_name="tier1.log")
        nport = t1.port_of("r0")
        total, acked = 30000, []
        lines = [f"k9 {i:06d}" for i in range(total)]
        done = threading.Event()

        def sender():
            for i in range(0, total, 500):
                part = lines[i:i + 500]
                replies = send_acked(nport, part, chunk=500)
                acked.extend(l for l, r in zip(part, replies) if r == "OK")
            done.set()

        th = threading.Thread(target=sender)
        th.start()
        kills = 0
        for restart in range(2):  # two kill -9 / restart rounds while lines flow
            want = (restart + 1) * total // 4
            self.assertTrue(wait_until(lambda: len(lines_in(out)) >= want, 120),
                            t2.text()[-3000:])
            t2.kill9()
            kills += 1
            self.assertTrue(wait_until(lambda: "cannot connect to" in t1.text() or
                                       "failed:" in t1.text(), 30), t1.text()[-3000:])
            # On the same port: tier 1's sink reconnects to where it sent before.
            t2, _ = self.start_tier2(out, port=aport, channel="file",
                                     log_name=f"tier2-{kills}.log")
        th.join(180)
        self.assertTrue(done.is_set())
        self.assertEqual(len(acked), total)
        self.assertTrue(wait_until(lambda: set(acked) <= set(lines_in(out)), 120),
                        t1.text()[-3000:] + t2.text()[-3000:])
        self.assertEqual(t1.stop(), 0)
        self.assertEqual(t2.stop(), 0)
        got = lines_in(out)
        self.assertEqual(set(got), set(lines))  # nothing lost, nothing invented
        dups = len(got) - len(set(got))
        print(f"\n  {kills} kill -9 of tier 2, {len(got)} lines out, {dups} duplicates",
              file=sys.stderr)
        # Per kill: at most one avro batch (committed by tier 2, its OK never read) and one
        # file_roll batch (written, its take not committed) come twice.
        self.assertLessEqual(dups, kills * 2 * BATCH, f"{dups} duplicates")

    # ---- TLS ----

    def test_tls_interop_and_chain(self):
        cert, key, p12 = make_certs(self.dir)
        tls_source = ("a2.sources.r1.ssl = true\n"
                      f"a2.sources.r1.keystore = {p12}\n"
                      "a2.sources.r1.keystore-type = PKCS12\n"
                      "a2.sources.r1.keystore-password = changeit\n"
                      "a2.sources.r1.compression-type = deflate")
        out = os.path.join(self.dir, "out")
        t2, aport = self.start_tier2(out, extra=tls_source)
        # Python's ssl module (verifying the certificate and the host name) -> sluice's source.
        ctx = ssl.create_default_context(cafile=cert)
        c = avro_peer.AvroClient(aport, deflate=True, ssl_context=ctx)
        self.assertEqual(c.append_batch([({"via": "python"}, b"py %d" % i) for i in range(100)]),
                         "OK")
        c.close()
        # A plain client on the TLS port is dropped; TLS clients go on.
        s = socket.create_connection(("127.0.0.1", aport))
        s.sendall(avro_peer.frame(1, b"\x00" * 64))
        s.settimeout(10)
        try:
            self.assertEqual(s.recv(100), b"")
        except ConnectionResetError:
            pass
        s.close()
        # sluice's sink -> sluice's source over TLS + deflate, trusting the PKCS12 store.
        tls_sink = ("a1.sinks.k0.ssl = true\n"
                    f"a1.sinks.k0.truststore = {p12}\n"
                    "a1.sinks.k0.truststore-type = PKCS12\n"
                    "a1.sinks.k0.truststore-password = changeit\n"
                    "a1.sinks.k0.compression-type = deflate")
        conf = tier1_conf(os.path.join(self.dir, "tier1.properties"), aport, extra=tls_sink)
        t1 = self.start_agent(conf, log_name="tier1.log")
        nport = t1.port_of("r0")
        sent = [f"tls line {i:05d}" for i in range(3000)]
        self.assertEqual(send_acked(nport, sent, chunk=500), ["OK"] * len(sent))
        want = [f"py {i}" for i in range(100)] + sent
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(want), 60),
                        t1.text()[-3000:] + t2.text()[-3000:])
        self.assertIn("connected to 127.0.0.1:%d (TLS)" % aport, t1.text())
        # TLS 1.3 session tickets after the handshake are not mistaken for a closed connection.
        self.assertEqual(t1.text().count("connected to"), 1, t1.text())
        self.assertNotIn("changeit", t1.text() + t2.text())  # secrets stay out of the log
        self.assertEqual(t1.stop(), 0)
        self.assertEqual(t2.stop(), 0)
        self.assertEqual(lines_in(out), want)

    def test_tls_sink_to_python_server_and_untrusted_certificate(self):
        cert, key, p12 = make_certs(self.dir)
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(cert, key)
        server = avro_peer.AvroServer(ssl_context=sctx)
        self.addCleanup(server.stop)
        # First without a trust store: the system's CAs do not know this certificate.
        conf = tier1_conf(os.path.join(self.dir, "tier1.properties"), server.port,
                          extra="a1.sinks.k0.ssl = true")
        t1 = self.start_agent(conf, log_name="untrusted.log")
        nport = t1.port_of("r0")
        self.assertEqual(send_acked(nport, ["refused 1", "refused 2"]), ["OK", "OK"])
        self.assertTrue(wait_until(lambda: "TLS handshake failed" in t1.text(), 30), t1.text())
        self.assertIn("certificate", t1.text())
        self.assertEqual(server.received(), [])
        self.assertEqual(t1.stop(), 0)
        # Trusting the PEM certificate: the held lines and new ones arrive (memory channel, so
        # the first agent's lines are gone with it; a new agent starts clean).
        conf = tier1_conf(os.path.join(self.dir, "tier1b.properties"), server.port,
                          extra=f"a1.sinks.k0.ssl = true\na1.sinks.k0.truststore = {cert}\n"
                                "a1.sinks.k0.truststore-type = PEM")
        t1 = self.start_agent(conf, log_name="trusted.log")
        nport = t1.port_of("r0")
        sent = [f"secure {i}" for i in range(500)]
        self.assertEqual(send_acked(nport, sent), ["OK"] * len(sent))
        self.assertTrue(wait_until(lambda: len(server.received()) >= len(sent), 30), t1.text())
        self.assertEqual(t1.stop(), 0)
        self.assertEqual([b.decode() for _, b in server.received()], sent)
        self.assertIn("NONE", server.matches)

    # ---- hostile input ----

    def test_bad_frames_do_not_hurt_other_clients(self):
        out = os.path.join(self.dir, "out")
        started = time.monotonic()
        agent, port = self.start_tier2(out, monitor=True,
                                 extra="a2.sources.r1.max-frame-size = 1048576\n"
                                       "a2.sources.r1.threads = 1")
        good = avro_peer.AvroClient(port)
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(avro_peer.frame(1, b"\x00" * 5000)[:3000])  # half a frame, then silence
        bad_inputs = [
            os.urandom(4096),                                      # garbage
            struct.pack("!iii", 1, 1, 0x7ffffff0),                 # one huge buffer
            struct.pack("!ii", 1, 0x7fffffff),                     # two billion buffers
            struct.pack("!iii", 1, 1, -5),                         # negative length
            avro_peer.frame(1, b"\x01" * 40),                      # not a handshake
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
        # Truncated frames: the client goes away mid-frame.
        for cut in (3, 10, 200):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(avro_peer.frame(1, b"\x00" * 1000)[:cut])
            s.close()
        sent = [f"good {i}" for i in range(500)]
        for i in range(0, 500, 50):
            self.assertEqual(good.append_batch([({}, x.encode()) for x in sent[i:i + 50]]), "OK")
        good.close()
        stalled.close()
        want = [f"between {i}" for i in range(1, len(bad_inputs) + 1)] + sent
        self.assertTrue(wait_until(lambda: len(lines_in(out)) >= len(want), 30), agent.text())
        mport = agent.monitor_port()
        self.assertTrue(wait_until(
            lambda: int(metrics(mport)["SOURCE.r1"]["EventReadFail"]) >= len(bad_inputs) + 3, 10))
        self.assertTrue(wait_until(
            lambda: int(metrics(mport)["SOURCE.r1"]["OpenConnectionCount"]) == 0, 10))
        self.assertTrue(agent.alive())
        self.assertEqual(agent.stop(), 0)
        self.assertEqual(lines_in(out), want)
        # Rate-limited: one warning per second at most (one I/O thread), not one per frame.
        elapsed = time.monotonic() - started
        self.assertLessEqual(agent.text().count("closing the connection from"), int(elapsed) + 1)

    # ---- configuration through the real loader ----

    def test_config_errors(self):
        conf = tier2_conf(os.path.join(self.dir, "bad.properties"), 4141, self.dir,
                          extra="a2.sources.r1.compresion-type = deflate")
        # An unknown key in .properties: a warning (Flume ignores it too); --strict: an error.
        r = run("validate", "-n", "a2", "-f", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: a2.sources.r1.compresion-type", r.stderr)
        self.assertIn("did you mean 'compression-type'", r.stderr)
        r = run("validate", "--strict", "-n", "a2", "-f", conf)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("compresion-type", r.stderr + r.stdout)
        self.assertIn("did you mean 'compression-type'", r.stderr + r.stdout)
        conf = tier2_conf(os.path.join(self.dir, "ssl.properties"), 4141, self.dir,
                          extra="a2.sources.r1.ssl = true")
        r = run("validate", "-n", "a2", "-f", conf)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("a2.sources.r1.keystore: is required when ssl = true", r.stderr + r.stdout)
        # The sink's batch key is batch-size (Flume's spelling for this sink), not batchSize.
        conf = tier1_conf(os.path.join(self.dir, "sink.properties"), 4141,
                          extra="a1.sinks.k0.batchSize = 100")
        r = run("validate", "-n", "a1", "-f", conf)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: a1.sinks.k0.batchSize: unknown key", r.stderr)
        r = run("validate", "--strict", "-n", "a1", "-f", conf)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("a1.sinks.k0.batchSize", r.stderr + r.stdout)
        self.assertIn("did you mean 'batch-size'", r.stderr + r.stdout)
        r = run("describe", "org.apache.flume.sink.AvroSink")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("request-timeout", r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
