#!/usr/bin/env python3
"""End-to-end tests of the http sink with the real binary against real HTTP servers started by
the test: Debian's nginx (its own config in a temporary directory; 200 with the bodies logged,
fixed statuses, TLS) and a small Python HTTP/1.1 server whose answers the test changes while
the agent runs (5XX then 200, 4XX for some events, a server that hangs, one that is down and
comes up). Events come in as lines on a netcat source (each acknowledged once it is in the
channel) and must all reach the server: nothing acknowledged is lost, and what the config says
to drop is dropped and counted."""

import json
import os
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.join(os.environ.get("SLUICE_SOURCE_ROOT", ""), "tests", "support"))
from sluice_test import AgentTestCase, free_port, send_acked, wait_until  # noqa: E402
from http_servers import Nginx, StatusServer, make_pki  # noqa: E402

# Flume's user-guide settings: 2XX and 4XX are final, everything else is sent again.
DELIVERING = """a1.sinks.k1.backoff.2XX = false
a1.sinks.k1.rollback.2XX = false
a1.sinks.k1.incrementMetrics.2XX = true
a1.sinks.k1.backoff.4XX = false
a1.sinks.k1.rollback.4XX = false
a1.sinks.k1.incrementMetrics.4XX = false"""


def conf(path, endpoint, extra=""):
    with open(path, "w") as f:
        f.write(f"""a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = netcat
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 100000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = http
a1.sinks.k1.channel = c1
a1.sinks.k1.endpoint = {endpoint}
a1.sinks.k1.connectTimeout = 1000
a1.sinks.k1.requestTimeout = 1000
a1.sinks.k1.contentTypeHeader = text/plain; charset=utf-8
{extra}
""")
    return path


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return json.loads(r.read())


class HttpSinkTest(AgentTestCase):
    dir_prefix = "sluice-e2e-http-sink-"

    def start(self, endpoint, extra=DELIVERING):
        path = conf(os.path.join(self.dir, "a.properties"), endpoint, extra)
        agent = self.start_agent(path, extra_args=["--monitor-port", "0"])
        self.nport = agent.port_of("r1")
        return agent

    def send(self, lines):
        self.assertEqual(send_acked(self.nport, lines), ["OK"] * len(lines))

    def sink_counters(self, agent):
        return metrics(agent.monitor_port())["SINK.k1"]

    def test_nginx_200_every_event_once_in_order(self):
        nginx = Nginx(os.path.join(self.dir, "nginx"))
        self.addCleanup(nginx.stop)
        agent = self.start(nginx.url("/ok"))
        sent = [f"event {i} é" for i in range(300)]
        self.send(sent)
        self.assertTrue(wait_until(lambda: len(nginx.bodies()) >= 300, 60),
                        agent.text()[-3000:] + nginx.errors())
        self.assertEqual(nginx.bodies(), sent)
        c = self.sink_counters(agent)
        self.assertEqual(c["EventDrainSuccessCount"], "300")
        self.assertEqual(c["ConnectionCreatedCount"], "1")  # kept alive all along
        self.assertEqual(agent.stop(), 0)

    def test_nginx_fixed_statuses(self):
        nginx = Nginx(os.path.join(self.dir, "nginx"))
        self.addCleanup(nginx.stop)
        # 404 is final (rollback.4XX = false): the events are dropped and counted.
        agent = self.start(nginx.url("/status/404"))
        self.send([f"lost {i}" for i in range(20)])
        self.assertTrue(wait_until(
            lambda: self.sink_counters(agent).get("EventDroppedCount") == "20", 30))
        self.assertEqual(agent.stop(), 0)
        self.assertIn("HTTP 404 Not Found", agent.text())
        # 503 is rolled back (the default): the events stay in the channel.
        agent = self.start(nginx.url("/status/503"))
        self.send([f"kept {i}" for i in range(5)])
        self.assertTrue(wait_until(
            lambda: int(self.sink_counters(agent).get("EventRolledBackCount", "0")) >= 2, 30))
        self.assertEqual(self.sink_counters(agent)["EventDrainSuccessCount"], "0")
        ch = metrics(agent.monitor_port())["CHANNEL.c1"]
        self.assertEqual(ch["ChannelSize"], "5")

    def test_5xx_then_200_nothing_lost(self):
        server = StatusServer()
        self.addCleanup(server.stop)
        server.status = 503
        agent = self.start(server.url())
        sent = [f"retry {i}" for i in range(50)]
        self.send(sent)
        self.assertTrue(wait_until(lambda: len(server.seen) >= 3, 30))
        self.assertEqual(server.delivered_bodies(), [])
        server.status = 200
        self.assertTrue(wait_until(lambda: len(server.delivered_bodies()) >= 50, 60),
                        agent.text()[-3000:])
        self.assertEqual(server.delivered_bodies(), sent, agent.text()[-4000:])  # each once, in order
        self.assertEqual(agent.stop(), 0)

    def test_4xx_drops_only_those_events(self):
        server = StatusServer()
        self.addCleanup(server.stop)
        server.status_for = lambda body: 422 if "bad" in body else 200
        agent = self.start(server.url())
        sent = [f"{'bad' if i % 10 == 0 else 'good'} {i}" for i in range(100)]
        self.send(sent)
        self.assertTrue(wait_until(lambda: len(server.seen) >= 100, 60))
        self.assertEqual(server.delivered_bodies(), [s for s in sent if "good" in s])
        self.assertTrue(wait_until(
            lambda: self.sink_counters(agent).get("EventDroppedCount") == "10", 10))

    def test_a_server_that_hangs(self):
        server = StatusServer()
        self.addCleanup(server.stop)
        server.hang.set()
        agent = self.start(server.url())
        sent = [f"patient {i}" for i in range(20)]
        self.send(sent)
        # requestTimeout (1 s) passes, the event is rolled back and sent again, and again.
        self.assertTrue(wait_until(lambda: len(server.seen) >= 2, 30))
        self.assertEqual(server.delivered_bodies(), [])
        server.hang.clear()
        # The held requests are answered late, to clients that gave up on them: they count as
        # delivered but are sent again, so wait for every distinct event.
        self.assertTrue(wait_until(lambda: set(server.delivered_bodies()) >= set(sent), 60),
                        agent.text()[-3000:])
        # At least once: the hung requests came again; every event arrived.
        self.assertEqual(set(server.delivered_bodies()), set(sent))
        self.assertIn("request-timeout (1000 ms)", agent.text())

    def test_a_server_that_is_down_then_comes_up(self):
        port = free_port()
        agent = self.start(f"http://127.0.0.1:{port}/events")
        sent = [f"waiting {i}" for i in range(30)]
        self.send(sent)
        self.assertTrue(wait_until(
            lambda: int(self.sink_counters(agent).get("ConnectionFailedCount", "0")) >= 1, 30))
        self.assertIn("Connection refused", agent.text())
        server = StatusServer(port)
        self.addCleanup(server.stop)
        self.assertTrue(wait_until(lambda: len(server.delivered_bodies()) >= 30, 60),
                        agent.text()[-3000:])
        self.assertEqual(server.delivered_bodies(), sent)
        # The server goes down mid-stream and comes back: still nothing lost.
        server.stop()
        failed = int(self.sink_counters(agent)["ConnectionFailedCount"])
        more = [f"later {i}" for i in range(30)]
        self.send(more)
        self.assertTrue(wait_until(  # the sink met the closed port
            lambda: int(self.sink_counters(agent)["ConnectionFailedCount"]) > failed, 30))
        again = StatusServer(port)
        self.addCleanup(again.stop)
        self.assertTrue(wait_until(lambda: len(again.delivered_bodies()) >= 30, 60),
                        agent.text()[-3000:])
        self.assertEqual(again.delivered_bodies(), more)

    def test_https_to_nginx_with_a_ca_file(self):
        pki = make_pki(os.path.join(self.dir, "pki"))
        nginx = Nginx(os.path.join(self.dir, "nginx"), tls=(pki["cert"], pki["key"]))
        self.addCleanup(nginx.stop)
        agent = self.start(nginx.url("/ok"), DELIVERING + f"\na1.sinks.k1.ssl.ca = {pki['ca']}")
        sent = [f"secret {i}" for i in range(50)]
        self.send(sent)
        self.assertTrue(wait_until(lambda: len(nginx.bodies()) >= 50, 60),
                        agent.text()[-3000:] + nginx.errors())
        self.assertEqual(nginx.bodies(), sent)


if __name__ == "__main__":
    unittest.main(verbosity=2)
