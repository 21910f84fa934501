#!/usr/bin/env python3
"""End-to-end tests of the TAILDIR source with the real binary and real files: rotation by rename
and by copytruncate while a writer appends at full speed, restarts (graceful and kill -9) with
exact line accounting, skipToEnd, headers, and deleted files being closed. Output is counted in a
file_roll sink (one file per agent run, rollInterval 0)."""

import json
import os
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.environ["SLUICE_SOURCE_ROOT"], "tests", "support"))
from sluice_test import Agent, lines_in, wait_until  # noqa: E402

PAD = "x" * 60


def line(gen, seq):
    return f"g{gen:03d}-{seq:08d} {PAD}"


class TaildirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="sluice-taildir-")
        self.dir = self.tmp.name
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.logs)
        self.pos = os.path.join(self.dir, "taildir_position.json")
        self.runs = 0
        # Cleanups run last-in first-out: the agents (registered later) stop before this.
        self.addCleanup(self.tmp.cleanup)

    def agent(self, props, out="out", sink=None, channel=None):
        """Starts an agent: TAILDIR (props) -> memory -> file_roll into self.dir/out."""
        self.runs += 1
        conf = os.path.join(self.dir, f"a{self.runs}.properties")
        outdir = os.path.join(self.dir, out)
        lines = ["a1.sources = r1", "a1.channels = c1", "a1.sinks = k1",
                 "a1.sources.r1.type = TAILDIR", "a1.sources.r1.channels = c1",
                 "a1.sources.r1.filegroups = g1",
                 f"a1.sources.r1.positionFile = {self.pos}",
                 "a1.sources.r1.batchSize = 500"]
        lines += [f"a1.sources.r1.{k} = {v}" for k, v in props.items()]
        lines += channel or ["a1.channels.c1.type = memory", "a1.channels.c1.capacity = 20000",
                             "a1.channels.c1.transactionCapacity = 1000"]
        lines += sink or ["a1.sinks.k1.type = file_roll", "a1.sinks.k1.channel = c1",
                          f"a1.sinks.k1.sink.directory = {outdir}",
                          "a1.sinks.k1.sink.rollInterval = 0",
                          "a1.sinks.k1.sink.batchSize = 1000"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        a = Agent(conf, self.dir, log_name=f"agent{self.runs}.log")
        self.addCleanup(a.stop)
        a.wait_started()
        return a

    def group(self, regex):
        # .properties unescapes backslashes, as Java's Properties does.
        return os.path.join(self.logs, regex.replace("\\", "\\\\"))

    def out_lines(self, out="out"):
        return lines_in(os.path.join(self.dir, out))

    def out_bytes(self, out="out"):
        d = os.path.join(self.dir, out)
        if not os.path.isdir(d):
            return 0
        return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))

    def wait_lines(self, n, out="out", timeout=60):
        got = wait_until(lambda: len(self.out_lines(out)) >= n, timeout=timeout, interval=0.1)
        self.assertTrue(got, f"expected {n} lines, have {len(self.out_lines(out))}")

    def assert_exact(self, got, want_by_gen):
        """Every line exactly once; within each generation (file) in order."""
        total = sum(len(v) for v in want_by_gen.values())
        self.assertEqual(len(got), total, "line count")
        self.assertEqual(len(set(got)), total, "duplicates")
        for gen, want in want_by_gen.items():
            prefix = f"g{gen:03d}-"
            self.assertEqual([l for l in got if l.startswith(prefix)], want, f"generation {gen}")

    # ---- rotation ---------------------------------------------------------------------------

    def rename_rotation(self, regex, renamed_matches):
        """A writer appends at full speed and rotates by rename every `per` lines (the
        logrotate 'create' way: rename, the writer keeps writing to the old file for a moment,
        then opens a new app.log)."""
        self.agent({"filegroups.g1": self.group(regex)})
        gens, per, tail = 6, 30000, 200
        want = {}
        app = os.path.join(self.logs, "app.log")
        for gen in range(gens):
            lines = [line(gen, i) for i in range(per)]
            want[gen] = lines
            with open(app, "a", buffering=1 << 20) as f:
                f.write("".join(l + "\n" for l in lines[:-tail]))
                f.flush()
                if gen < gens - 1:
                    os.rename(app, os.path.join(self.logs, f"app.log.{gen}"))
                # late lines, written to the renamed file through the old descriptor
                f.write("".join(l + "\n" for l in lines[-tail:]))
        total = gens * per
        self.wait_lines(total)
        self.assert_exact(self.out_lines(), want)
        if renamed_matches:
            # nothing was read twice although every renamed file still matched
            for gen in range(gens - 1):
                self.assertTrue(os.path.exists(os.path.join(self.logs, f"app.log.{gen}")))

    def test_rename_rotation_renamed_file_still_matches(self):
        self.rename_rotation(r"app\.log.*", True)

    def test_rename_rotation_renamed_file_no_longer_matches(self):
        self.rename_rotation(r"app\.log", False)

    def test_copytruncate_while_writing(self):
        """copytruncate with the copy outside the pattern: the writer appends bursts at full
        speed through an O_APPEND descriptor it never reopens; between bursts the file is copied
        and truncated. Every line arrives once and in order."""
        self.agent({"filegroups.g1": self.group(r"app\.log")})
        app = os.path.join(self.logs, "app.log")
        fd = os.open(app, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        want, sent = {0: []}, 0
        try:
            for burst in range(5):
                lines = [line(0, sent + i) for i in range(40000)]
                data = "".join(l + "\n" for l in lines).encode()
                for off in range(0, len(data), 1 << 16):
                    os.write(fd, data[off:off + (1 << 16)])
                sent += len(lines)
                want[0] += lines
                self.wait_lines(sent)
                # copytruncate: copy, then truncate in place; the writer's descriptor stays open
                with open(app, "rb") as src, open(app + f".{burst}.copy", "wb") as dst:
                    dst.write(src.read())
                os.truncate(app, 0)
        finally:
            os.close(fd)
        self.wait_lines(sent)
        self.assert_exact(self.out_lines(), want)

    def test_truncation_then_growth_past_the_old_position(self):
        """The file is truncated and immediately rewritten longer than before: the size never
        looks smaller, the changed last line shows the truncation."""
        self.agent({"filegroups.g1": self.group(r"app\.log")})
        app = os.path.join(self.logs, "app.log")
        first = [line(0, i) for i in range(1000)]
        with open(app, "w") as f:
            f.write("".join(l + "\n" for l in first))
        self.wait_lines(1000)
        second = [line(1, i) for i in range(3000)]
        with open(app, "r+") as f:
            f.truncate(0)
            f.write("".join(l + "\n" for l in second))
        self.wait_lines(4000)
        self.assert_exact(self.out_lines(), {0: first, 1: second})

    # ---- restarts ---------------------------------------------------------------------------

    def start_writer(self, path, gen, count, chunk=2000):
        state = {"written": 0}

        def run():
            with open(path, "a") as f:
                for start in range(0, count, chunk):
                    f.write("".join(line(gen, i) + "\n"
                                    for i in range(start, min(count, start + chunk))))
                    f.flush()
                    state["written"] = min(count, start + chunk)

        t = threading.Thread(target=run)
        t.start()
        return t, state

    def test_graceful_restart_mid_stream_loses_and_repeats_nothing(self):
        app = os.path.join(self.logs, "app.log")
        props = {"filegroups.g1": self.group(r"app\.log")}
        a = self.agent(props)
        total, half = 300000, 150000
        # The first half is written while the first agent runs, the second half from the moment
        # it is stopping, so the restart always falls in the middle of the stream.
        writer, _ = self.start_writer(app, 0, half)
        self.wait_lines(20000)
        second = threading.Thread(target=lambda: self.append_lines(app, 0, half, total))
        writer.join()
        second.start()
        self.assertEqual(a.stop(), 0)
        n1 = len(self.out_lines())
        self.assertLess(n1, total, "stopped too late to test a restart in the middle")
        self.agent(props)
        second.join()
        self.wait_lines(total)
        self.assert_exact(self.out_lines(), {0: [line(0, i) for i in range(total)]})

    def append_lines(self, path, gen, start, end, chunk=2000):
        with open(path, "a") as f:
            for i in range(start, end, chunk):
                f.write("".join(line(gen, j) + "\n" for j in range(i, min(end, i + chunk))))
                f.flush()

    def complete_lines(self, out):
        """Lines of out, without a last line cut short by a kill -9 in the middle of a write."""
        d = os.path.join(self.dir, out)
        data = b""
        for f in sorted(os.listdir(d)):
            with open(os.path.join(d, f), "rb") as fh:
                data += fh.read()
        if not data.endswith(b"\n"):
            data = data[:data.rfind(b"\n") + 1]
        return data.decode().splitlines()

    def kill9_mid_stream(self, total, kill_after, channel):
        """Writes `total` lines to app.log, runs an agent (sink into out1) until it has written
        `kill_after` lines and the position file exists, kills it with SIGKILL, then appends
        1000 more lines: the agent may have read the whole file before the kill landed (it reads
        hundreds of MB/s), so the restarted agent always has lines to resume. Returns the
        source props, every line of app.log in order, and the line width in bytes."""
        app = os.path.join(self.logs, "app.log")
        all_lines = [line(0, i) for i in range(total)]
        with open(app, "w") as f:
            f.write("".join(l + "\n" for l in all_lines))
        props = {"filegroups.g1": self.group(r"app\.log"), "writePosInterval": "100"}
        a = self.agent(props, out="out1", channel=channel)
        width = len(all_lines[0]) + 1
        self.assertTrue(wait_until(lambda: self.out_bytes("out1") >= kill_after * width
                                   and os.path.exists(self.pos), timeout=60, interval=0.01))
        a.kill9()
        more = [line(1, i) for i in range(1000)]
        with open(app, "a") as f:
            f.write("".join(l + "\n" for l in more))
        return props, all_lines + more, width

    def test_kill9_repeats_only_what_the_position_file_did_not_record(self):
        """kill -9 mid-stream with a memory channel. What the position file says decides
        everything: the restarted agent must deliver exactly the lines from the recorded
        position on; the first run delivered a prefix of the file. Lines before the recorded
        position that the first run did not deliver were in the memory channel (lost by the
        channel, bounded by its capacity); lines after it that the first run delivered are the
        duplicates (read after the last position write)."""
        chan = ["a1.channels.c1.type = memory", "a1.channels.c1.capacity = 2000",
                "a1.channels.c1.transactionCapacity = 1000"]
        props, all_lines, width = self.kill9_mid_stream(400000, 20000, chan)
        total = len(all_lines)
        with open(self.pos) as f:
            entries = json.load(f)
        self.assertEqual(len(entries), 1)
        pos = entries[0]["pos"]
        self.assertEqual(pos % width, 0, "a position is always at a line boundary")
        recorded = pos // width
        o1 = self.complete_lines("out1")
        self.assertEqual(o1, all_lines[:len(o1)], "first run: a prefix, in order, no duplicates")
        self.assertLess(len(o1), total)
        self.agent(props, out="out2", channel=chan)
        # Bytes, not lines: re-reading a large output each poll would compete with the agent,
        # which matters in the sanitizer builds.
        self.assertTrue(wait_until(lambda: self.out_bytes("out2") >= (total - recorded) * width,
                                   timeout=180, interval=0.2),
                        f"second run wrote {self.out_bytes('out2')} bytes")
        o2 = self.out_lines("out2")
        self.assertEqual(o2, all_lines[recorded:], "second run starts exactly at the position")
        lost = max(0, recorded - len(o1))
        self.assertLessEqual(lost, 2000 + 1000, "only what the memory channel held is lost")
        dups = max(0, len(o1) - recorded)
        print(f"kill -9: position at line {recorded}, first run delivered {len(o1)}, "
              f"duplicates {dups}, lost in the memory channel {lost}", file=sys.stderr)

    def test_kill9_with_a_file_channel_loses_nothing(self):
        """TAILDIR -> file channel: kill -9 in the middle of the stream, restart on the same
        position file and channel directories. Every line arrives; repeats are only lines read
        after the last position write (they were committed to the channel and are read again)
        and batches whose take had not committed."""
        chan = ["a1.channels.c1.type = file",
                f"a1.channels.c1.checkpointDir = {os.path.join(self.dir, 'checkpoint')}",
                f"a1.channels.c1.dataDirs = {os.path.join(self.dir, 'data')}",
                "a1.channels.c1.transactionCapacity = 1000",
                "a1.channels.c1.minimumRequiredSpace = 0"]
        props, all_lines, _ = self.kill9_mid_stream(200000, 10000, chan)
        want = set(all_lines)
        o1 = self.complete_lines("out1")
        self.agent(props, out="out2", channel=chan)

        def missing():
            return want - set(o1) - set(self.out_lines("out2"))
        self.assertTrue(wait_until(lambda: not missing(), timeout=180, interval=0.5),
                        f"{len(missing())} lines never delivered")
        got = o1 + self.out_lines("out2")
        self.assertEqual(set(got), want, "only lines that were written")
        counts = {}
        for l in got:
            counts[l] = counts.get(l, 0) + 1
        # At most: delivered before the crash with the take uncommitted, delivered again by the
        # channel, and read again from the recorded position.
        self.assertLessEqual(max(counts.values()), 3)
        print(f"kill -9 with a file channel: first run {len(o1)} lines, total {len(got)}, "
              f"repeats {len(got) - len(want)}", file=sys.stderr)

    # ---- options ----------------------------------------------------------------------------

    def test_skip_to_end(self):
        app = os.path.join(self.logs, "app.log")
        with open(app, "w") as f:
            f.write("".join(line(0, i) + "\n" for i in range(500)))
        a = self.agent({"filegroups.g1": self.group(r"app\.log"), "skipToEnd": "true"})
        a.wait_for("from byte")
        with open(app, "a") as f:
            f.write("".join(line(1, i) + "\n" for i in range(10)))
        self.wait_lines(10)
        self.assertEqual(self.out_lines(), [line(1, i) for i in range(10)])

    def test_headers_and_file_header(self):
        app = os.path.join(self.logs, "app.log")
        with open(app, "w") as f:
            f.write("hello\n")
        sink = ["a1.sinks.k1.type = logger", "a1.sinks.k1.channel = c1"]
        a = self.agent({"filegroups.g1": self.group(r"app\.log"), "headers.g1.dc": "nyc1",
                        "fileHeader": "true", "byteOffsetHeader": "true"}, sink=sink)
        a.wait_for("body:")
        text = a.text()
        self.assertIn("dc=nyc1", text)
        self.assertIn(f"file={app}", text)
        self.assertIn("byteoffset=0", text)

    def test_deleted_file_is_read_to_the_end_and_closed(self):
        app = os.path.join(self.logs, "app.log")
        with open(app, "w") as f:
            f.write("".join(line(0, i) + "\n" for i in range(100)))
        a = self.agent({"filegroups.g1": self.group(r"app\.log")})
        self.wait_lines(100)

        def open_fds():
            out = []
            for fd in os.listdir(f"/proc/{a.proc.pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{a.proc.pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith(app):
                    out.append(target)
            return out

        self.assertTrue(wait_until(lambda: open_fds() != [], timeout=10))
        with open(app, "a") as f:
            f.write("".join(line(0, i) + "\n" for i in range(100, 150)))
        os.unlink(app)
        self.assertTrue(wait_until(lambda: open_fds() == [], timeout=20),
                        f"still open: {open_fds()}")
        self.wait_lines(150)
        self.assert_exact(self.out_lines(), {0: [line(0, i) for i in range(150)]})


    # ---- many files, restarts after a rewrite -------------------------------------------------

    def test_max_open_files_bounds_descriptors(self):
        """2000 files, maxOpenFiles 50 and an idleTimeout too long to help: every line of every
        file arrives once and in order, and the agent never holds more than the cap (plus what
        it holds anyway) descriptors, counted in /proc/<pid>/fd."""
        cap, files, per = 50, 2000, 20
        a = self.agent({"filegroups.g1": self.group(r"app-\d+\.log"), "maxOpenFiles": str(cap),
                        "idleTimeout": "600000"})
        fd_dir = f"/proc/{a.proc.pid}/fd"
        baseline = len(os.listdir(fd_dir))
        peak = [baseline]
        done = threading.Event()

        def sample():
            while not done.is_set():
                try:
                    peak[0] = max(peak[0], len(os.listdir(fd_dir)))
                except OSError:
                    return
                done.wait(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        want = {}
        try:
            # Two rounds: new files (opened as they appear), then closed ones growing again.
            for rnd in range(2):
                for i in range(files):
                    ls = [f"f{i:04d}-{rnd}-{j:03d} {PAD}" for j in range(per)]
                    with open(os.path.join(self.logs, f"app-{i}.log"), "a") as f:
                        f.write("".join(l + "\n" for l in ls))
                    want.setdefault(i, []).extend(ls)
            total = files * per * 2
            self.wait_lines(total, timeout=180)
        finally:
            done.set()
            sampler.join()
        got = self.out_lines()
        self.assertEqual(len(got), total, "line count")
        by_file = {}
        for l in got:
            by_file.setdefault(int(l[1:5]), []).append(l)
        for i in range(files):
            self.assertEqual(by_file.get(i), want[i], f"file {i}")
        print(f"maxOpenFiles {cap}: {files} files, descriptors {baseline} at start, "
              f"{peak[0]} at most", file=sys.stderr)
        self.assertLessEqual(peak[0], baseline + cap + 5)

    def test_rewritten_while_stopped_is_read_from_the_start(self):
        """Stopped agent, file truncated and rewritten in place with other lines, first shorter
        than the saved position, then longer: each restart reads exactly the new lines."""
        app = os.path.join(self.logs, "app.log")
        props = {"filegroups.g1": self.group(r"app\.log")}

        def rewrite(gen, n):
            with open(app, "r+" if os.path.exists(app) else "w") as f:  # same inode
                f.truncate(0)
                f.write("".join(line(gen, i) + "\n" for i in range(n)))
            return [line(gen, i) for i in range(n)]

        def caught_up():
            try:
                with open(self.pos) as f:
                    entries = json.load(f)
            except (OSError, ValueError):
                return False
            return [e["pos"] for e in entries] == [os.path.getsize(app)]

        for gen, n in enumerate([1000, 300, 3000]):
            want = rewrite(gen, n)
            a = self.agent(props, out=f"out{gen}")
            self.wait_lines(n, out=f"out{gen}")
            self.assertEqual(a.stop(), 0)
            self.assertTrue(caught_up(), "the position file holds the new file's end")
            self.assertEqual(self.out_lines(f"out{gen}"), want, f"run {gen}")
            # The position file is Flume's: only inode, pos and file.
            with open(self.pos) as f:
                self.assertEqual([sorted(e) for e in json.load(f)], [["file", "inode", "pos"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
