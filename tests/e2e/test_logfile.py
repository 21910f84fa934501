#!/usr/bin/env python3
"""Logging as Flume users set it up: -Dflume.root.logger=LEVEL,console|LOGFILE with
-Dflume.log.dir and -Dflume.log.file (Flume's defaults ./logs and flume.log), the file rotated by
size (--log-file-max-size / --log-file-max-files; Flume's log4j2 default is 100 MB, 20 files)."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import BIN, seq_conf, wait_until  # noqa: E402

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \w+ +\[[^\]]+\] ")


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class LogFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-logfile-")
        self.conf = seq_conf(os.path.join(self.dir, "a1.properties"), 20)
        self.procs = []

    def tearDown(self):
        for p, err in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            err.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, *args, cwd=None, name="stderr.log"):
        """Starts sluice agent with args; returns (process, function reading its stderr)."""
        path = os.path.join(self.dir, name)
        err = open(path, "w")
        p = subprocess.Popen([BIN, "agent", "-n", "a1", "-f", self.conf, "--no-reload-conf", *args],
                             cwd=cwd or self.dir, stdout=err, stderr=subprocess.STDOUT)
        self.procs.append((p, err))
        return p, lambda: read(path)

    def stop(self, p):
        p.terminate()
        self.assertEqual(0, p.wait(30))

    def test_logfile_gets_the_agent_lines_and_the_console_none(self):
        logdir = os.path.join(self.dir, "var", "log", "flume")  # created as log4j would
        p, stderr = self.start("-Dflume.root.logger=INFO,LOGFILE", f"-Dflume.log.dir={logdir}",
                               "-Dflume.log.file=agent1.log")
        path = os.path.join(logdir, "agent1.log")
        self.assertTrue(wait_until(lambda: read(path).count("Event: {") == 20, 30), read(path))
        text = read(path)
        self.assertIn("started:", text)  # flushed line by line: there while the agent runs
        for line in text.splitlines():
            self.assertRegex(line, LINE)
        self.assertNotIn("\x1b[", text)  # no terminal colours in a file
        self.stop(p)
        self.assertNotIn("Event: {", stderr())
        self.assertNotIn("started:", stderr())

    def test_console_and_logfile_with_flume_defaults(self):
        """INFO,console,LOGFILE: both; no flume.log.dir/file: Flume's ./logs/flume.log, relative
        to the working directory."""
        p, stderr = self.start("-Dflume.root.logger=INFO,console,LOGFILE")
        path = os.path.join(self.dir, "logs", "flume.log")
        self.assertTrue(wait_until(lambda: read(path).count("Event: {") == 20, 30), read(path))
        self.assertTrue(wait_until(lambda: stderr().count("Event: {") == 20, 30), stderr())
        self.stop(p)

    def test_log_dir_alone_means_logfile_as_in_flume(self):
        """Flume's shipped log4j configuration logs INFO to LOGFILE: -Dflume.log.dir alone (as
        init scripts pass it) writes the file, not the console."""
        logdir = os.path.join(self.dir, "logs2")
        p, stderr = self.start(f"-Dflume.log.dir={logdir}")
        path = os.path.join(logdir, "flume.log")
        self.assertTrue(wait_until(lambda: read(path).count("Event: {") == 20, 30), read(path))
        self.stop(p)
        self.assertNotIn("Event: {", stderr())

    def test_console_keeps_stderr_and_unknown_appenders_are_named(self):
        p, stderr = self.start("-Dflume.root.logger=DEBUG,console,DAILY")
        self.assertTrue(wait_until(lambda: stderr().count("Event: {") == 20, 30), stderr())
        self.assertIn("warning: -Dflume.root.logger: appender 'DAILY' is not one sluice knows", stderr())
        self.assertIn(" debug ", stderr())  # the level came from the switch
        self.assertEqual([], glob.glob(os.path.join(self.dir, "logs", "*")))
        self.stop(p)

    def test_rotation_at_the_configured_size(self):
        """--log-file-max-size 4KB --log-file-max-files 3: flume.log is rotated to flume.1.log
        (spdlog's names), at most 3 old files are kept, none over the size, and the newest
        lines are in flume.log."""
        self.conf = seq_conf(os.path.join(self.dir, "many.properties"), 400)
        logdir = os.path.join(self.dir, "rot")
        p, stderr = self.start("-Dflume.root.logger=INFO,LOGFILE", f"-Dflume.log.dir={logdir}",
                               "--log-file-max-size", "4KB", "--log-file-max-files", "3")
        current = os.path.join(logdir, "flume.log")
        rotated = [os.path.join(logdir, f"flume.{i}.log") for i in (1, 2, 3)]

        # 400 events of the logger sink (~90 bytes each) are far more than 4 files of 4 KB.
        self.assertTrue(wait_until(lambda: all(os.path.exists(r) for r in rotated), 30),
                        os.listdir(logdir) if os.path.isdir(logdir) else stderr())
        self.assertTrue(wait_until(lambda: read(current).count("Event: {") > 0, 30))
        self.stop(p)
        files = sorted(os.listdir(logdir))
        self.assertEqual(["flume.1.log", "flume.2.log", "flume.3.log", "flume.log"], files)
        for f in files:
            self.assertLessEqual(os.path.getsize(os.path.join(logdir, f)), 4096, f)
        # The newest lines are in flume.log: the stop, after the last event.
        self.assertIn("stopped", read(current).lower())
        # Rotated files hold whole lines, oldest in the highest number.
        for r in rotated:
            for line in read(r).splitlines():
                self.assertRegex(line, LINE)

    def test_bad_rotation_options(self):
        for args, message in ((("--log-file-max-size", "10 parsecs"), "--log-file-max-size"),
                              (("--log-file-max-files", "0"), "--log-file-max-files")):
            r = subprocess.run([BIN, "agent", "-n", "a1", "-f", self.conf, *args],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(2, r.returncode, r.stderr)
            self.assertIn("error: " + message, r.stderr)
        # A log file that cannot be created says which.
        blocker = os.path.join(self.dir, "file")
        open(blocker, "w").close()
        r = subprocess.run([BIN, "agent", "-n", "a1", "-f", self.conf,
                            "-Dflume.root.logger=INFO,LOGFILE", f"-Dflume.log.dir={blocker}/sub"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(2, r.returncode, r.stderr)
        self.assertIn(f"error: cannot open the log file {blocker}/sub/flume.log", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
