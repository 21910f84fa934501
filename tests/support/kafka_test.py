"""Kafka helpers for the Python tests: the mock cluster process (tests/support/kafka_mock.cpp)
and kcat (Debian package kcat), an independent Kafka client, to put messages in and read them
back.

    from kafka_test import MockKafka, kcat_produce, kcat_consume
    with MockKafka(["in:4", "out:2"]) as k:
        k.bootstrap          # "127.0.0.1:port,..."
        k.command("down all"); k.command("up all")
"""

import os
import signal
import subprocess

from sluice_test import wait_until

KAFKA_MOCK = os.environ.get("SLUICE_KAFKA_MOCK", "")
if not KAFKA_MOCK and os.environ.get("SLUICE_BUILD_ROOT"):
    KAFKA_MOCK = os.path.join(os.environ["SLUICE_BUILD_ROOT"], "tests", "kafka_mock")


class MockKafka:
    """A mock cluster of `brokers` brokers with the given topics ("name" or "name:partitions").
    Stopped (SIGTERM) by stop() or at the end of a with block."""

    def __init__(self, topics=(), brokers=3):
        self.proc = subprocess.Popen([KAFKA_MOCK, "--brokers", str(brokers), *topics],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.bootstrap = self.proc.stdout.readline().strip()
        if not self.bootstrap:
            raise RuntimeError(
                f"kafka_mock printed no bootstrap servers (exit {self.proc.poll()})")

    def command(self, line):
        """Sends one command (see kafka_mock.cpp) and returns its answer, raising on an error."""
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        if answer != "ok":
            raise RuntimeError(f"kafka_mock '{line}': {answer}")
        return answer

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def kcat_produce(bootstrap, topic, lines, key_delim=None, headers=()):
    """Produces one message per line with kcat (-K delim splits key and value; headers are
    'name=value' strings added to every message). Waits until kcat is done."""
    args = ["kcat", "-b", bootstrap, "-P", "-t", topic, "-X", "log_level=3"]
    if key_delim:
        args += ["-K", key_delim]
    for h in headers:
        args += ["-H", h]
    r = subprocess.run(args, input="".join(l + "\n" for l in lines), text=True,
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("kcat -P failed: " + r.stderr)


def kcat_consume(bootstrap, topic, want, timeout=30.0, fmt="%s\\n"):
    """Reads the whole topic from the beginning with kcat, again until at least `want` records
    came or the timeout passed; returns the formatted records (one string each, fmt without the
    trailing newline)."""
    out = []

    def enough():
        r = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e",
                            "-q", "-X", "log_level=3", "-f", fmt.replace("\\n", "\x1e")],
                           capture_output=True, timeout=60)
        out[:] = [rec.decode("utf-8", "replace") for rec in r.stdout.split(b"\x1e") if rec]
        return len(out) >= want
    wait_until(enough, timeout, interval=0.2)
    return out
