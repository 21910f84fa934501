#!/usr/bin/env python3
"""End-to-end tests of the Ganglia reporter (-Dflume.monitoring.type=ganglia): a real agent
process sends to a real gmond (Debian's ganglia-monitor, started here in the foreground with a
config of its own on free ports), and the test reads the metrics back from gmond's XML port and
compares them, name by name, with the agent's /metrics.

gmond 3.1 and later ignore Ganglia 3.0 datagrams (checked with gmond 3.7.2), so the 3.0 format
(-Dflume.monitoring.isGanglia3=true) is checked by decoding the datagrams with the XDR layout of
Ganglia 3.0's protocol.x (Ganglia_message, metric_user_defined = 0: Ganglia_gmetric_message).
"""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import unittest
import urllib.request
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import Agent, free_port, port_open, seq_conf, wait_until  # noqa: E402

GMOND = shutil.which("gmond") or "/usr/sbin/gmond"
EVENTS = 500


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def java_float(text):
    """Whether Java's Float.parseFloat accepts text, for the plain forms /metrics holds."""
    try:
        float(text)
        return not text.strip().lower().startswith(("inf", "+inf", "-inf", "nan"))
    except ValueError:
        return False


class Gmond:
    """gmond in the foreground with its own config: UDP metrics in on udp_port, XML out on
    tcp_port, both on 127.0.0.1."""

    def __init__(self, workdir):
        self.udp_port, self.tcp_port = free_udp_port(), free_port()
        conf = os.path.join(workdir, "gmond.conf")
        with open(conf, "w") as f:
            f.write(f"""globals {{
  daemonize = no
  setuid = no
  user = root
  debug_level = 0
  mute = no
  deaf = no
  host_dmax = 0
  cleanup_threshold = 300
  send_metadata_interval = 0
}}
cluster {{ name = "sluice-test" }}
udp_recv_channel {{ port = {self.udp_port} bind = 127.0.0.1 }}
tcp_accept_channel {{ port = {self.tcp_port} bind = 127.0.0.1 }}
""")
        self.log = open(os.path.join(workdir, "gmond.log"), "w")
        self.proc = subprocess.Popen([GMOND, "-c", conf, "-f"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if not port_open(self.tcp_port, 20):
            self.stop()
            raise AssertionError("gmond did not open its XML port")

    def metrics(self):
        """{name: {attributes of <METRIC>, plus "GROUP" from its extra data}} of every host."""
        with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=10) as s:
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        text = data.decode("utf-8", "replace")
        root = ET.fromstring(text[text.index("<GANGLIA_XML"):])
        out = {}
        for m in root.iter("METRIC"):
            attrs = dict(m.attrib)
            for e in m.iter("EXTRA_ELEMENT"):
                attrs[e.attrib["NAME"]] = e.attrib["VAL"]
            out[attrs["NAME"]] = attrs
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Ganglia30Receiver:
    """A UDP socket that decodes Ganglia 3.0 datagrams: {name: (type, value, units, slope, tmax,
    dmax)}."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.metrics = {}
        self.bad = []

    def poll(self):
        try:
            while True:
                data, _ = self.sock.recvfrom(2048)
                self.decode(data)
        except socket.timeout:
            pass
        return self.metrics

    def decode(self, data):
        pos = 0

        def u32():
            nonlocal pos
            v = struct.unpack_from(">I", data, pos)[0]
            pos += 4
            return v

        def string():
            nonlocal pos
            n = u32()
            s = data[pos:pos + n].decode()
            pos += (n + 3) // 4 * 4
            return s

        if u32() != 0:  # metric_user_defined
            self.bad.append(data)
            return
        typ, name, value, units = string(), string(), string(), string()
        slope, tmax, dmax = u32(), u32(), u32()
        if pos != len(data):
            self.bad.append(data)
            return
        self.metrics[name] = (typ, value, units, slope, tmax, dmax)


def flume_metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return json.loads(r.read().decode())


@unittest.skipUnless(os.path.exists(GMOND), "gmond (Debian ganglia-monitor) is not installed")
class GangliaTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-ganglia-")
        self.conf = seq_conf(os.path.join(self.dir, "a1.properties"), EVENTS, sink="null",
                             batch_size=50)
        self.agents = []
        self.gmond = None

    def tearDown(self):
        for a in self.agents:
            a.stop()
        if self.gmond:
            self.gmond.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, switches, log_name="agent.log", extra_args=("--monitor-port", "0")):
        a = Agent(self.conf, self.dir, overrides=switches, log_name=log_name,
                  extra_args=list(extra_args))
        self.agents.append(a)
        return a

    def settled(self, values):
        """Whether the agent's counters have their final values in `values` ({name: value})."""
        return (values.get("flume.SOURCE.r1.EventAcceptedCount") == str(EVENTS)
                and values.get("flume.SINK.k1.EventDrainSuccessCount") == str(EVENTS))

    @staticmethod
    def consistent(want, got, value_of, prefix=""):
        """(want, got) when every /metrics attribute in `want` has its value in `got` (metrics
        by name; value_of reads one's value), else None."""
        for group, attrs in want.items():
            for attribute, value in attrs.items():
                m = got.get(f"{prefix}flume.{group}.{attribute}")
                if m is None or value_of(m) != value:
                    return None
        return want, dict(got)

    def check_every_attribute(self, want, got, prefix, fields):
        """Every attribute of /metrics (`want`) is in `got` as <prefix><group>.<attribute> and
        nothing else is: fields(metric) gives (value, type, units, slope, tmax, dmax), which must
        be its /metrics value, the type Flume gives it, "", both, 60 and 0."""
        names = set()
        for group, attrs in want.items():
            for attribute, value in attrs.items():
                name = f"{prefix}{group}.{attribute}"
                names.add(name)
                self.assertIn(name, got)
                self.assertEqual((value, "float" if java_float(value) else "string", "", "both",
                                  "60", "0"), fields(got[name]), name)
        self.assertEqual(names, {n for n in got if n.startswith(prefix)})

    def test_ganglia31_every_metrics_attribute_in_gmond(self):
        """The default (Ganglia 3.1): every attribute of /metrics reaches gmond named
        flume.<group>.<attribute>, with /metrics' value, typed float or string as Flume types
        it, units "", slope both, tmax 60, dmax 0 and the extra data GROUP=flume."""
        self.gmond = Gmond(self.dir)
        bad = free_udp_port()  # nothing listens there: a second host that fails must not matter
        agent = self.start({"flume.monitoring.type": "ganglia",
                            "flume.monitoring.hosts":
                                f"127.0.0.1:{self.gmond.udp_port},127.0.0.1:{bad},not-a-host",
                            "flume.monitoring.pollFrequency": "1"})
        agent.wait_for(f"monitoring: pushing Ganglia 3.1 metrics to 127.0.0.1:{self.gmond.udp_port}, "
                       f"127.0.0.1:{bad} (udp) every 1000 ms")
        self.assertIn("-Dflume.monitoring.hosts: invalid Ganglia host 'not-a-host'", agent.text())

        def values():
            return {n: m["VAL"] for n, m in self.gmond.metrics().items()}
        self.assertTrue(wait_until(lambda: self.settled(values()), 60),
                        f"{values()}\n{agent.text()[-3000:]}")
        # The idle sink's take attempts still count up (slower and slower as it backs off):
        # compare once a push has caught up with /metrics.
        port = agent.monitor_port()
        pair = wait_until(lambda: self.consistent(flume_metrics(port), self.gmond.metrics(),
                                                  lambda m: m["VAL"]), 30)
        self.assertTrue(pair, "gmond never showed what /metrics shows")
        want, got = pair
        self.assertEqual({"SOURCE.r1", "CHANNEL.c1", "SINK.k1"}, set(want))
        self.check_every_attribute(want, got, "flume.", lambda m: (
            m["VAL"], m["TYPE"], m["UNITS"], m["SLOPE"], m["TMAX"], m["DMAX"]))
        for name, m in got.items():
            self.assertEqual("flume", m["GROUP"], name)
        # What Flume users graph, spelled as Flume's reporter spells it.
        self.assertEqual("string", got["flume.CHANNEL.c1.Type"]["TYPE"])
        self.assertEqual("CHANNEL", got["flume.CHANNEL.c1.Type"]["VAL"])
        self.assertEqual(str(EVENTS), got["flume.CHANNEL.c1.EventPutSuccessCount"]["VAL"])
        self.assertEqual("0.0", got["flume.CHANNEL.c1.ChannelFillPercentage"]["VAL"])
        self.assertEqual("float", got["flume.SINK.k1.EventDrainSuccessCount"]["TYPE"])
        self.assertEqual(0, agent.stop())

    def test_ganglia30_datagrams(self):
        """isGanglia3=true: one Ganglia 3.0 datagram per attribute, named
        <hostname>.flume.<group>.<attribute> as Flume names it, every /metrics attribute."""
        receiver = Ganglia30Receiver()
        try:
            agent = self.start({"flume.monitoring.type": "org.apache.flume.instrumentation.GangliaServer",
                                "flume.monitoring.hosts": f"127.0.0.1:{receiver.port}",
                                "flume.monitoring.pollFrequency": "1",
                                "flume.monitoring.isGanglia3": "true"})
            agent.wait_for(f"monitoring: pushing Ganglia 3.0 metrics to 127.0.0.1:{receiver.port}")
            host = socket.gethostname()
            prefix = host + ".flume."

            def values():
                return {n[len(host) + 1:]: v[1] for n, v in receiver.poll().items()}
            self.assertTrue(wait_until(lambda: self.settled(values()), 60),
                            f"{values()}\n{agent.text()[-3000:]}")
            port = agent.monitor_port()
            pair = wait_until(lambda: self.consistent(flume_metrics(port), receiver.poll(),
                                                      lambda v: v[1], prefix=host + "."), 30)
            self.assertTrue(pair, "the datagrams never showed what /metrics shows")
            want, got = pair
            self.assertEqual([], receiver.bad)
            slopes = {3: "both"}
            self.check_every_attribute(want, got, prefix, lambda v: (
                v[1], v[0], v[2], slopes.get(v[3], v[3]), str(v[4]), str(v[5])))
            self.assertEqual(0, agent.stop())
        finally:
            receiver.sock.close()

    def test_gmond_ignores_ganglia30(self):
        """Why the 3.0 test decodes datagrams itself: a gmond 3.1+ drops 3.0 datagrams, so Flume
        users with such a gmond keep isGanglia3=false (the default)."""
        self.gmond = Gmond(self.dir)
        agent = self.start({"flume.monitoring.type": "ganglia",
                            "flume.monitoring.hosts": f"127.0.0.1:{self.gmond.udp_port}",
                            "flume.monitoring.pollFrequency": "1",
                            "flume.monitoring.isGanglia3": "true"}, extra_args=())
        agent.wait_for("monitoring: pushing Ganglia 3.0 metrics")
        agent.wait_for("started:")
        # Pushes go out at start and every second; after three of them gmond still has none.
        self.assertFalse(wait_until(
            lambda: any(n.find("flume.") >= 0 for n in self.gmond.metrics()), 3.5))
        self.assertEqual(0, agent.stop())

    def test_bad_switches_refuse_to_start(self):
        """As Flume: hosts is required and must hold one host:port; unlike Flume, a bad
        pollFrequency or isGanglia3 is an error, not a silent default."""
        cases = [
            ({}, "-Dflume.monitoring.hosts: the Ganglia reporter needs the gmond hosts"),
            ({"flume.monitoring.hosts": "nohost,:12"},
             "-Dflume.monitoring.hosts: no valid Ganglia hosts in 'nohost,:12'"),
            ({"flume.monitoring.hosts": "127.0.0.1:8649", "flume.monitoring.pollFrequency": "0"},
             "-Dflume.monitoring.pollFrequency: expected a number of seconds between 1 and 86400"),
            ({"flume.monitoring.hosts": "127.0.0.1:8649", "flume.monitoring.isGanglia3": "yes"},
             "-Dflume.monitoring.isGanglia3: expected true or false, got 'yes'"),
        ]
        for i, (switches, message) in enumerate(cases):
            switches = dict(switches, **{"flume.monitoring.type": "ganglia"})
            agent = self.start(switches, log_name=f"bad-{i}.log", extra_args=())
            self.assertEqual(1, agent.proc.wait(30), agent.text())
            self.assertIn("error: " + message, agent.text())

        # A Ganglia switch without type=ganglia is named and ignored.
        agent = self.start({"flume.monitoring.hosts": "127.0.0.1:8649",
                            "flume.monitoring.type": "http"}, log_name="http.log")
        agent.wait_for("started:")
        self.assertIn("warning: -Dflume.monitoring.hosts: understood are type and port, and "
                      "hosts, pollFrequency and isGanglia3 with type=ganglia; ignored", agent.text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
