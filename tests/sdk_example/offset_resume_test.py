#!/usr/bin/env python3
"""com.example.OffsetFileSource (sdk/examples/offset_file_source.cpp) across a kill -9.

Usage: offset_resume_test.py <sluice binary> <plugins dir> <scratch dir>

An agent reads a big file (OffsetFileSource -> channel -> file_roll), is killed with SIGKILL in
the middle of the file, and is started again with the same offset file. The source commits a
batch to the channel and then writes its offset, so after the restart it must resume exactly at
the stored offset: nothing skipped, and at most one batch (the one committed but not yet recorded
when the kill came) delivered twice.

The channel is the file channel when the build has it, so the whole pipeline must lose nothing;
with the memory channel (the fallback), what the channel held at the kill is lost by the channel,
so the checks are made per run: run 2 emits exactly the lines from the stored offset on, run 1
emitted a prefix of the file ending at most one source batch past that offset.
"""

import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import wait_until  # noqa: E402

SLUICE, PLUGINS, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
N = 60_000            # lines of 13 bytes: about 0.8 MB
SRC_BATCH = 50
SINK_BATCH = 20
LINE = "line-{:07d}\n"

os.makedirs(TMP, exist_ok=True)
data = os.path.join(TMP, "input.log")
offset_file = os.path.join(TMP, "input.offset")
with open(data, "w") as f:
    f.write("".join(LINE.format(i) for i in range(N)))
size = os.path.getsize(data)
line_len = len(LINE.format(0))

have_file_channel = (os.environ.get("OFFSET_TEST_CHANNEL", "file") == "file" and
                     subprocess.run([SLUICE, "describe", "file"], capture_output=True).returncode == 0)
channel = (f"""a1.channels.c1.type = file
a1.channels.c1.checkpointDir = {TMP}/fc/checkpoint
a1.channels.c1.dataDirs = {TMP}/fc/data
a1.channels.c1.capacity = 1000000
a1.channels.c1.transactionCapacity = 1000
""" if have_file_channel else """a1.channels.c1.type = memory
a1.channels.c1.capacity = 2000
a1.channels.c1.transactionCapacity = 1000
""")


def config(out):
    return f"""a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = com.example.OffsetFileSource
a1.sources.r1.channels = c1
a1.sources.r1.file = {data}
a1.sources.r1.offsetFile = {offset_file}
a1.sources.r1.batchSize = {SRC_BATCH}
{channel}
a1.sinks.k1.type = file_roll
a1.sinks.k1.channel = c1
a1.sinks.k1.sink.directory = {out}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.sink.batchSize = {SINK_BATCH}
"""


def offset():
    try:
        with open(offset_file) as f:
            return int(f.read().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def start(run):
    out = os.path.join(TMP, f"out{run}")
    os.makedirs(out, exist_ok=True)
    conf = os.path.join(TMP, f"run{run}.properties")
    with open(conf, "w") as f:
        f.write(config(out))
    log = open(os.path.join(TMP, f"run{run}.log"), "w")
    p = subprocess.Popen([SLUICE, "agent", "-n", "a1", "-f", conf, "--plugins-path", PLUGINS,
                          "--no-reload-conf"], stdout=log, stderr=subprocess.STDOUT)
    return p, out, log


def lines_of(out):
    got = []
    for name in sorted(os.listdir(out)):
        with open(os.path.join(out, name)) as f:
            got.extend(f.read().splitlines())
    return got


def fail(msg, run=None):
    print("FAIL:", msg, file=sys.stderr)
    if run:
        with open(os.path.join(TMP, f"run{run}.log")) as f:
            print(f.read()[-4000:], file=sys.stderr)
    sys.exit(1)


def wait(cond, timeout, what, run):
    if not wait_until(cond, timeout, interval=0.005):
        fail(f"timed out waiting for {what}", run)


# ---- run 1: kill -9 in the middle of the file ----
p1, out1, log1 = start(1)
wait(lambda: offset() >= size // 10 or p1.poll() is not None, 60, "the first committed batches", 1)
if offset() >= size:
    fail("the agent read the whole file before it could be killed: make the file bigger", 1)
p1.send_signal(signal.SIGKILL)
p1.wait()
log1.close()
stored = offset()
if stored % line_len != 0:
    fail(f"the stored offset {stored} is not at a line boundary")
resume = stored // line_len
print(f"   killed at offset {stored} of {size} (line {resume} of {N}); channel: "
      f"{'file' if have_file_channel else 'memory'}")

# ---- run 2: resume and finish ----
p2, out2, log2 = start(2)
wait(lambda: offset() == size or p2.poll() is not None, 120, "the end of the file", 2)
if have_file_channel:
    wait(lambda: len(lines_of(out1)) + len(lines_of(out2)) >= N or p2.poll() is not None, 120,
         "every line in the output", 2)
else:
    wait(lambda: len(lines_of(out2)) >= N - resume or p2.poll() is not None, 120,
         "every line after the offset", 2)
p2.send_signal(signal.SIGTERM)
if p2.wait(timeout=60) != 0:
    fail(f"the second agent exited with status {p2.returncode}", 2)
log2.close()

expected = [LINE.format(i).rstrip("\n") for i in range(N)]
got1, got2 = lines_of(out1), lines_of(out2)
index = {line: i for i, line in enumerate(expected)}
if any(line not in index for line in got1 + got2):
    fail("the output holds a line that is not in the input (a torn line?)")

if have_file_channel:
    seen = set(got1) | set(got2)
    lost = N - len(seen)
    dups = len(got1) + len(got2) - len(seen)
    # Run 2's source re-read everything from the stored offset on.
    if not set(expected[resume:]) <= set(got2) | set(got1):
        fail("lines after the stored offset are missing")
    print(f"   run 1 wrote {len(got1)} lines, run 2 {len(got2)}; lost {lost}, duplicated {dups} "
          f"(allowed: one source batch {SRC_BATCH} + one sink batch {SINK_BATCH})")
    if lost:
        fail(f"{lost} lines lost")
    if dups > SRC_BATCH + SINK_BATCH:
        fail(f"{dups} duplicate lines, more than one source batch plus one sink batch")
else:
    if got2 != expected[resume:]:
        fail(f"run 2 did not emit exactly lines {resume}..{N - 1} in order "
             f"(got {len(got2)} lines, first {got2[:1]})")
    k = len(got1)
    if got1 != expected[:k]:
        fail("run 1's output is not a prefix of the file")
    dups = max(0, k - resume)
    print(f"   run 1 wrote lines 0..{k - 1}, run 2 lines {resume}..{N - 1}: {dups} duplicated "
          f"(at most one batch of {SRC_BATCH}); {max(0, resume - k)} lost with the memory channel")
    if dups > SRC_BATCH:
        fail(f"{dups} duplicate lines, more than one batch")
print("   OffsetFileSource: resumed at the stored offset; nothing lost, at most one batch repeated")
