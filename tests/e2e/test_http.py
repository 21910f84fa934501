#!/usr/bin/env python3
"""End-to-end tests of the http source with the real binary and curl as the client:

- JSON batches become events with their headers (test.file_sink writes "body k=v" lines);
  malformed JSON is answered 400 and nothing is put; a full channel 503 and nothing is lost
  (the client's retries are all delivered once the channel drains); a body over maxBodyBytes
  413; chunked uploads; 1,000 requests on one keep-alive connection (curl's %{num_connects});
  TLS with --cacert against a PKCS12 key store; the BlobHandler; methods as Flume answers them;
- bad input on the port (garbage, a 10 MB request line, a truncated request, a client that
  stalls): the bad connection is answered or closed and counted, the agent lives on and other
  clients keep being served;
- config checking through the real loader: unknown keys (an error in TOML, a warning in
  .properties unless --strict, with a hint), Flume's Jetty keys accepted with a warning."""

import json
import os
import socket
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "tests", "support"))
from sluice_test import AgentTestCase, run, wait_until  # noqa: E402
from http_servers import curl, make_pki  # noqa: E402


def conf(path, out, extra="", capacity=100000, fail=""):
    """http source r1 (port 0) -> memory channel -> test.file_sink writing `out`."""
    with open(path, "w") as f:
        f.write(f"""a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = http
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
{extra}
a1.channels.c1.type = memory
a1.channels.c1.capacity = {capacity}
a1.channels.c1.transactionCapacity = {min(1000, capacity)}
a1.channels.c1.keep-alive = 1
a1.sinks.k1.type = test.file_sink
a1.sinks.k1.channel = c1
a1.sinks.k1.outFile = {out}
a1.sinks.k1.batchSize = 100
{"a1.sinks.k1.failFile = " + fail if fail else ""}
""")
    return path


def batch(start, n, tag="e"):
    return json.dumps([{"headers": {"i": str(i)}, "body": f"{tag}{i}"}
                       for i in range(start, start + n)])


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return json.loads(r.read())


class HttpSourceTest(AgentTestCase):
    dir_prefix = "sluice-e2e-http-"

    def start(self, extra="", capacity=100000, fail=""):
        self.out = os.path.join(self.dir, "out.txt")
        path = conf(os.path.join(self.dir, "a.properties"), self.out, extra, capacity, fail)
        agent = self.start_agent(path, extra_args=["--monitor-port", "0"])
        self.port = agent.port_of("r1")
        self.url = f"http://127.0.0.1:{self.port}/"
        return agent

    def lines(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out, "rb") as f:
            return f.read().decode(errors="replace").splitlines()

    def source_counters(self, agent):
        return metrics(agent.monitor_port())["SOURCE.r1"]

    def post(self, body, *args):
        path = os.path.join(self.dir, "body.json")
        with open(path, "w") as f:
            f.write(body)
        out, err = curl("-o", os.path.join(self.dir, "answer"), "--data-binary", "@" + path,
                        "-H", "Content-Type: application/json", *args, self.url)
        with open(os.path.join(self.dir, "answer"), errors="replace") as f:
            return out.split()[0] if out else "000", f.read()

    def test_json_batches_arrive_with_their_headers(self):
        agent = self.start()
        status, _ = self.post(batch(0, 3))
        self.assertEqual(status, "200")
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 3), agent.text()[-3000:])
        self.assertEqual(self.lines(), ["e0 i=0", "e1 i=1", "e2 i=2"])
        c = self.source_counters(agent)
        self.assertEqual(c["EventAcceptedCount"], "3")
        self.assertEqual(c["AppendBatchAcceptedCount"], "1")

    def test_malformed_json_is_400_and_nothing_is_put(self):
        agent = self.start()
        status, answer = self.post('[{"headers": {"a": "b"}, "body": "x"}, {"body": ')
        self.assertEqual(status, "400")
        self.assertIn("Bad request from client. invalid JSON", answer)
        status, _ = self.post(batch(0, 1))  # the next, valid request goes through
        self.assertEqual(status, "200")
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 1))
        self.assertEqual(self.lines(), ["e0 i=0"])
        c = self.source_counters(agent)
        self.assertEqual(c["EventReadFail"], "1")
        self.assertEqual(c["EventReceivedCount"], "1")

    def test_full_channel_is_503_and_nothing_is_lost(self):
        fail = os.path.join(self.dir, "sink-fails")
        open(fail, "w").close()  # the sink fails until this file is gone: the channel fills
        agent = self.start(capacity=200, fail=fail)
        accepted, refused = [], []
        for b in range(10):
            status, answer = self.post(batch(b * 50, 50, "b"))
            (accepted if status == "200" else refused).append(b)
            if status != "200":
                self.assertEqual(status, "503")
                self.assertIn("Channel might be full", answer)
        self.assertEqual(len(accepted), 4)  # 200 events fit
        self.assertEqual(self.lines(), [])
        self.assertGreaterEqual(int(self.source_counters(agent)["ChannelWriteFail"]), 1)
        os.remove(fail)
        # The client sends the refused batches again until they are taken.
        for b in refused:
            deadline = time.monotonic() + 30
            while self.post(batch(b * 50, 50, "b"))[0] != "200":
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.2)
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 500, 30))
        got = [l.split()[0] for l in self.lines()]
        self.assertEqual(sorted(got), sorted(f"b{i}" for i in range(500)))  # each exactly once

    def test_body_over_the_limit_is_413(self):
        agent = self.start("a1.sources.r1.maxBodyBytes = 100000")
        status, answer = self.post(batch(0, 10000))
        self.assertEqual(status, "413")
        self.assertIn("larger than 100000 bytes", answer)
        self.assertEqual(self.source_counters(agent)["RequestTooLargeCount"], "1")
        self.assertEqual(self.post(batch(0, 5))[0], "200")

    def test_chunked_upload(self):
        self.start()
        # 1,000 events (~30 KB): one put transaction, at most the channel's transactionCapacity.
        status, _ = self.post(batch(0, 1000), "-H", "Transfer-Encoding: chunked")
        self.assertEqual(status, "200")
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 1000))
        self.assertEqual(len(self.lines()), 1000)

    def test_a_thousand_requests_on_one_keep_alive_connection(self):
        agent = self.start()
        path = os.path.join(self.dir, "body.json")
        with open(path, "w") as f:
            f.write(batch(0, 10))
        urls = [f"{self.url}?n={i}" for i in range(1000)]
        out, err = curl("-o", "/dev/null", "--data-binary", "@" + path, "-H",
                        "Content-Type: application/json", *urls, timeout=300)
        rows = [l.split() for l in out.splitlines()]
        self.assertEqual(len(rows), 1000, err)
        self.assertEqual({r[0] for r in rows}, {"200"})
        self.assertEqual(sum(int(r[1]) for r in rows), 1)  # one connection for all of them
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 10000, 60))
        self.assertEqual(len(self.lines()), 10000)
        self.assertEqual(self.source_counters(agent)["AppendBatchAcceptedCount"], "1000")

    def test_tls_with_cacert(self):
        pki = make_pki(os.path.join(self.dir, "pki"))
        self.start(f"""a1.sources.r1.ssl = true
a1.sources.r1.keystore = {pki['p12']}
a1.sources.r1.keystore-type = PKCS12
a1.sources.r1.keystore-password = {pki['password']}""")
        self.url = f"https://localhost:{self.port}/"
        status, _ = self.post(batch(0, 4), "--cacert", pki["ca"])
        self.assertEqual(status, "200")
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 4))
        # Without the CA, curl refuses the server: nothing is sent.
        status, _ = self.post(batch(4, 1))
        self.assertEqual(status, "000")
        self.assertEqual(len(self.lines()), 4)

    def test_blob_handler(self):
        self.start("""a1.sources.r1.handler = org.apache.flume.sink.solr.morphline.BlobHandler
a1.sources.r1.handler.maxBlobLength = 1000000""")
        blob = os.path.join(self.dir, "report.txt")
        with open(blob, "w") as f:
            f.write("line one of the report")
        out, err = curl("-o", "/dev/null", "--data-binary", "@" + blob, "-H",
                        "Content-Type: text/plain", self.url + "?resourceName=report.txt&id=7")
        self.assertEqual(out.split()[0], "200", err)
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 1))
        line = self.lines()[0]
        self.assertTrue(line.startswith("line one of the report "), line)
        for h in ("resourceName=report.txt", "id=7", "Content-Type=text/plain"):
            self.assertIn(h, line)

    def test_handler_plugin_from_a_library(self):
        # handler names a plugin of kind HttpHandler (tests/plugins/test_subcomponents.cpp), made
        # by the host with the keys below handler.
        agent = self.start("""a1.sources.r1.handler = test.CsvHandler
a1.sources.r1.handler.headerName = k""")
        status, _ = self.post("x,one\ny,two\n")
        self.assertEqual(status, "200")
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 2), agent.text()[-3000:])
        self.assertEqual(self.lines(), ["one k=x", "two k=y"])
        # HttpBadRequest from the handler is 400 with its message; any other exception is 500,
        # as Flume answers; nothing is put for either.
        status, answer = self.post("no delimiter here\n")
        self.assertEqual(status, "400")
        self.assertIn("Bad request from client. line 1 has no ','", answer)
        status, answer = self.post("boom")
        self.assertEqual(status, "500")
        self.assertIn("the handler blew up", answer)
        status, _ = self.post("z,three\n")
        self.assertEqual(status, "200")
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 3))
        self.assertEqual(self.lines(), ["one k=x", "two k=y", "three k=z"])
        self.assertEqual(self.source_counters(agent)["EventReadFail"], "2")

    def test_methods(self):
        self.start()
        out, _ = curl("-o", "/dev/null", "-X", "TRACE", self.url)
        self.assertEqual(out.split()[0], "403")
        out, _ = curl("-o", "/dev/null", "-X", "OPTIONS", self.url)
        self.assertEqual(out.split()[0], "403")
        out, _ = curl("-o", "/dev/null", "-X", "PUT", "-d", "[]", self.url)
        self.assertEqual(out.split()[0], "405")
        # GET is served like POST, as in Flume (a body on a GET is unusual, but it is taken).
        out, _ = curl("-o", "/dev/null", "-X", "GET", "-d", batch(0, 1), self.url)
        self.assertEqual(out.split()[0], "200")
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 1))

    def test_bad_input_on_the_port(self):
        agent = self.start("a1.sources.r1.requestTimeout = 1000")
        good_status = []

        # A stalling client: half a request, then nothing.
        stall = socket.create_connection(("127.0.0.1", self.port))
        stall.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[{\"bo")
        # Garbage.
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as g:
            g.sendall(bytes(range(256)) * 4 + b"\r\n\r\n")
            self.assertIn(b" 400 ", g.recv(4096))
        # A 10 MB request line.
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as big:
            try:
                big.sendall(b"GET /" + b"a" * (10 << 20))
            except OSError:
                pass  # the server answered and closed before taking all of it
            self.assertIn(b" 431 ", big.recv(4096))
        # A truncated request: the client goes away mid-body.
        with socket.create_connection(("127.0.0.1", self.port)) as t:
            t.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n[{\"body\":")
        # Meanwhile a well-behaved client is served.
        good_status.append(self.post(batch(0, 5))[0])
        # The stalling client gets 408 and is closed.
        stall.settimeout(10)
        self.assertIn(b" 408 ", stall.recv(4096))
        self.assertEqual(stall.recv(4096), b"")
        stall.close()
        good_status.append(self.post(batch(5, 5))[0])
        self.assertEqual(good_status, ["200", "200"])
        self.assertTrue(wait_until(lambda: len(self.lines()) >= 10))
        self.assertEqual(len(self.lines()), 10)
        self.assertTrue(agent.alive())
        c = self.source_counters(agent)
        self.assertEqual(c["MalformedRequestCount"], "2")  # the garbage and the 10 MB line
        self.assertEqual(c["RequestTimedOutCount"], "1")
        self.assertEqual(c["EventAcceptedCount"], "10")

    def test_config_checking(self):
        toml = os.path.join(self.dir, "a.toml")
        with open(toml, "w") as f:
            f.write("""[a1.sources.r1]
type = "http"
port = 5140
channels = ["c1"]
handlr = "x"
[a1.channels.c1]
type = "memory"
[a1.sinks.k1]
type = "null"
channel = "c1"
""")
        r = run("validate", "-n", "a1", "-f", toml)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("a1.sources.r1.handlr: unknown key", r.stderr + r.stdout)
        self.assertIn("did you mean 'handler'", r.stderr + r.stdout)
        props = os.path.join(self.dir, "a.properties")
        flume_conf = """a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = org.apache.flume.source.http.HTTPSource
a1.sources.r1.port = 5140
a1.sources.r1.channels = c1
a1.sources.r1.QueuedThreadPool.maxThreads = 50
a1.channels.c1.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
"""
        # Flume's Jetty keys are accepted with a warning that says they do nothing here.
        with open(props, "w") as f:
            f.write(flume_conf)
        r = run("validate", "-n", "a1", "-f", props)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("a1.sources.r1.QueuedThreadPool.maxThreads: a Flume key that sluice does "
                      "not use", r.stderr + r.stdout)
        # An unknown key in .properties is a warning with the hint (Flume ignores it too);
        # --strict makes it an error.
        with open(props, "w") as f:
            f.write(flume_conf + "a1.sources.r1.handlr = x\n")
        r = run("validate", "-n", "a1", "-f", props)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("warning: a1.sources.r1.handlr: unknown key", r.stderr + r.stdout)
        self.assertIn("did you mean 'handler'", r.stderr + r.stdout)
        r = run("validate", "--strict", "-n", "a1", "-f", props)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("a1.sources.r1.handlr: unknown key", r.stderr + r.stdout)
        self.assertIn("did you mean 'handler'", r.stderr + r.stdout)
        # A missing port names the key.
        with open(props, "w") as f:
            f.write("""a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = http
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
""")
        r = run("validate", "-n", "a1", "-f", props)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("port", r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
