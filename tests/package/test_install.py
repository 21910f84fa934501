#!/usr/bin/env python3
"""`meson install` into a staging directory, checked file by file against the layout the README
promises (prefix/bin/sluice, lib/<multiarch>/sluice/plugins, include/sluice/sdk + sluice-sdk.pc,
share/doc/sluice/examples, the man page, bash completion, the systemd unit and its wrapper),
and the pieces that work without a real install: the man page holds every option of every
command's --help, completion answers from the binary, the unit passes `systemd-analyze verify`,
and every system call a busy agent makes is allowed by the unit's SystemCallFilter.

The same files installed from the Debian packages on a fresh Debian root: test_package.sh.
"""

import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from sluice_test import BIN, Agent, send_lines, wait_until  # noqa: E402

BUILD = os.environ["SLUICE_BUILD_ROOT"]
SOURCE = os.environ["SLUICE_SOURCE_ROOT"]


def options_of(help_text):
    """The options in the left column of a program_options table, or every --word of a usage."""
    opts = re.findall(r"^  (-[A-Za-z]) \[ (--[A-Za-z][A-Za-z-]*) \]", help_text, re.M)
    found = [o for pair in opts for o in pair]
    found += re.findall(r"^  (--?[A-Za-z][A-Za-z-]*)(?: |$)", help_text, re.M)
    return sorted(set(found)) or sorted(set(re.findall(r"--[a-z][a-z-]+", help_text)))


def help_of(*args):
    p = subprocess.run([BIN, *args, "--help"], capture_output=True, text=True, timeout=60)
    return p.stdout + p.stderr


def commands():
    usage = help_of()
    block = usage.split("commands:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  ([a-z][a-z-]*)\s", block, re.M)


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sluice-install-")
        cls.stage = os.path.join(cls.tmp, "stage")
        r = subprocess.run(["meson", "install", "-C", BUILD, "--destdir", cls.stage,
                            "--no-rebuild", "--quiet"], capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"meson install failed:\n{r.stdout}\n{r.stderr}")
        opts = json.loads(subprocess.run(["meson", "introspect", "--buildoptions", BUILD],
                                         capture_output=True, text=True, check=True).stdout)
        cls.opt = {o["name"]: o["value"] for o in opts}
        cls.prefix = cls.opt["prefix"]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def dir_of(self, option):
        """The absolute install path of a meson directory option (relative ones are under the
        prefix)."""
        return os.path.join(self.prefix, self.opt[option])

    def staged(self, path):
        return self.stage + path

    def assertFile(self, path, executable=False):
        self.assertTrue(os.path.isfile(self.staged(path)), f"{path} was not installed")
        if executable:
            self.assertTrue(os.access(self.staged(path), os.X_OK), f"{path} is not executable")

    def test_binary_and_plugins(self):
        self.assertFile(os.path.join(self.dir_of("bindir"), "sluice"), executable=True)
        self.assertFile(os.path.join(self.dir_of("libexecdir"), "sluice-channel-check"),
                        executable=True)
        # Flume's command line and the avro client it runs (`flume-ng avro-client`).
        self.assertFile(os.path.join(self.dir_of("bindir"), "flume-ng"), executable=True)
        self.assertFile(os.path.join(self.dir_of("libexecdir"), "sluice-avro-client"),
                        executable=True)
        libdir = self.opt["libdir"]
        if shutil.which("dpkg-architecture"):
            arch = subprocess.run(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"],
                                  capture_output=True, text=True, check=True).stdout.strip()
            self.assertEqual(libdir, f"lib/{arch}", "plugins belong in lib/<multiarch>/")
        plugindir = os.path.join(self.prefix, libdir, "sluice", "plugins")
        # plugins/meson.build builds every built-in plugin into build/plugins/.
        built = {os.path.basename(f) for f in glob.glob(os.path.join(BUILD, "plugins", "libsluice-*.so"))}
        installed = {os.path.basename(f) for f in glob.glob(self.staged(plugindir) + "/*.so")}
        self.assertTrue(built, "no built-in plugin was built")
        self.assertEqual(built - installed, set(), f"plugins missing from {plugindir}")
        # The installed binary looks there without any option, and says so.
        out = subprocess.run([self.staged(os.path.join(self.dir_of("bindir"), "sluice")),
                              "version"], capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items()
                                  if k != "SLUICE_PLUGINS_PATH"}).stdout
        self.assertIn(f"plugins: {plugindir} (built-in", out)

    def test_sdk_headers_and_pkgconfig(self):
        includedir = os.path.join(self.dir_of("includedir"), "sluice", "sdk")
        want = sorted(os.listdir(os.path.join(SOURCE, "sdk", "include", "sluice", "sdk")))
        self.assertEqual(sorted(os.listdir(self.staged(includedir))), want)
        pc = os.path.join(self.prefix, self.opt["libdir"], "pkgconfig", "sluice-sdk.pc")
        self.assertFile(pc)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(self.staged(pc)),
                   PKG_CONFIG_SYSROOT_DIR="")
        var = subprocess.run(["pkg-config", "--variable=plugindir", "sluice-sdk"], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
        self.assertEqual(var, os.path.join(self.prefix, self.opt["libdir"], "sluice", "plugins"))

    def test_examples(self):
        doc = os.path.join(self.dir_of("datadir"), "doc", "sluice")
        self.assertEqual(sorted(os.listdir(self.staged(doc + "/examples"))),
                         sorted(os.listdir(os.path.join(SOURCE, "conf"))))
        self.assertEqual(sorted(os.listdir(self.staged(doc + "/sdk-example"))),
                         sorted(os.listdir(os.path.join(SOURCE, "sdk", "examples"))))

    def test_man_page_has_every_option_of_every_command(self):
        page = self.staged(os.path.join(self.dir_of("mandir"), "man1", "sluice.1"))
        self.assertTrue(os.path.isfile(page), "sluice.1 was not installed")
        # flume-ng(1) is the same page, which includes `flume-ng help`.
        self.assertEqual(os.readlink(os.path.join(os.path.dirname(page), "flume-ng.1")), "sluice.1")
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], capture_output=True,
                           text=True)
        self.assertEqual(r.stderr, "", "groff warns about sluice.1")
        text = subprocess.run(["groff", "-man", "-Tascii", "-P-cbou", page], capture_output=True,
                              text=True, check=True).stdout
        self.assertIn("flume-ng avro-client", text)
        self.assertIn("--headerFile", text)
        names = commands()
        self.assertGreaterEqual(len(names), 6)
        for cmd in names:
            self.assertIn(f"sluice {cmd}", text)
            for opt in options_of(help_of(cmd)):
                self.assertRegex(text, re.escape(opt) + r"\b",
                                 f"{opt} of `sluice {cmd}` is not in the man page")

    def complete(self, *words, env=None):
        """COMPREPLY of the installed completion for the command line WORDS (the last one is
        being completed), with the build tree's binary as `sluice`."""
        script = self.staged(os.path.join(self.dir_of("datadir"), "bash-completion",
                                          "completions", "sluice"))
        line = " ".join(f"'{w}'" for w in (BIN,) + words)
        prog = (f'source "{script}"; COMP_WORDS=({line}); COMP_CWORD={len(words)}; _sluice; '
                'printf "%s\\n" "${COMPREPLY[@]}"')
        r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=60,
                           env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [w for w in r.stdout.split("\n") if w]

    def test_bash_completion(self):
        flume = self.staged(os.path.join(self.dir_of("datadir"), "bash-completion",
                                         "completions", "flume-ng"))
        self.assertEqual(os.readlink(flume), "sluice")
        self.assertEqual(sorted(self.complete("")), sorted(commands()))
        self.assertEqual(self.complete("de"), ["describe"])
        self.assertIn("--plugins-path", self.complete("agent", "--pl"))
        self.assertEqual(self.complete("agent", "--no-"), ["--no-reload-conf"])
        self.assertEqual(self.complete("channel-check", "--drop"), ["--drop-corrupt"])
        self.assertEqual(self.complete("agent", "--log-level", "d"), ["debug"])
        self.assertIn("memory", self.complete("describe", "mem"))
        # Types come from the plugins the line names, too (read when TAB is pressed).
        plugdir = os.path.join(self.tmp, "plugins")
        os.makedirs(plugdir, exist_ok=True)
        shutil.copyfile(os.environ["SLUICE_TEST_STALL_PLUGIN"], plugdir + "/libstall.so")
        os.chmod(plugdir + "/libstall.so", 0o755)
        self.assertEqual(self.complete("describe", "--plugins-path", plugdir, "test.st"),
                         ["test.stall"])
        conf = os.path.join(self.tmp, "a1.toml")
        open(conf, "w").close()
        self.assertEqual(self.complete("agent", "-f", os.path.join(self.tmp, "a1.")), [conf])

    def test_unit_and_wrapper(self):
        unit = os.path.join(self.prefix, "lib", "systemd", "system", "sluice@.service")
        self.assertFile(unit)
        text = open(self.staged(unit)).read()
        wrapper = os.path.join(self.dir_of("libexecdir"), "sluice-service")
        self.assertFile(wrapper, executable=True)
        for line in ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                     "ProtectSystem=strict", "ReadWritePaths=/var/lib/sluice /var/log/sluice",
                     "NoNewPrivileges=yes",
                     "CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_DAC_READ_SEARCH",
                     f"ExecStart={wrapper} %i ", "-Dflume.log.dir=/var/log/sluice",
                     # logrotate rotates the file, not the agent as well
                     "--log-file-max-size 0"]:
            self.assertIn(line, text)
        self.assertRegex(text, r"(?m)^WatchdogSec=\d+")
        # systemd-analyze verify, with ExecStart's wrapper at its staged path (verify checks that
        # the program exists) and the unit named as an instance.
        instance = os.path.join(self.tmp, "sluice@a1.service")
        with open(instance, "w") as f:
            f.write(text.replace(f"ExecStart={wrapper} ", f"ExecStart={self.staged(wrapper)} "))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", instance],
                           capture_output=True, text=True)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        users = subprocess.run(["systemd-sysusers", "--dry-run",
                                self.staged(os.path.join(self.prefix, "lib", "sysusers.d",
                                                         "sluice.conf"))],
                               capture_output=True, text=True)
        self.assertEqual(users.returncode, 0, users.stderr)

        # The wrapper picks NAME.toml or NAME.properties and refuses none or both.
        confdir = os.path.join(self.tmp, "etc-sluice")
        os.makedirs(confdir, exist_ok=True)
        env = dict(os.environ, SLUICE_CONF_DIR=confdir)
        run = lambda: subprocess.run([self.staged(wrapper), "a1"], capture_output=True,  # noqa
                                     text=True, env=env, timeout=30)
        r = run()
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"write {confdir}/a1.toml or {confdir}/a1.properties", r.stderr)
        for ext in ("toml", "properties"):
            open(os.path.join(confdir, f"a1.{ext}"), "w").close()
        r = run()
        self.assertEqual(r.returncode, 2)
        self.assertIn("both", r.stderr)
        self.assertIn(f"exec {self.dir_of('bindir')}/sluice agent -n \"$name\" -f \"$conf\"",
                      open(self.staged(wrapper)).read())


class TracedAgent(Agent):
    """`sluice agent` under `strace -f`, its trace in TRACE."""

    def __init__(self, conf, workdir, trace):  # pylint: disable=super-init-not-called
        self.log_path = os.path.join(workdir, "agent.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["strace", "-f", "-qq", "-o", trace, BIN, "agent", "-n",
                                      "a1", "-f", conf, "--monitor-port", "0"],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def traced_pid(self):
        """The agent's pid: strace's child (signals sent to strace would not reach it)."""
        path = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
        pids = wait_until(lambda: open(path).read().split(), 30)
        if not pids:
            raise AssertionError("strace started no agent:\n" + self.text()[-3000:])
        return int(pids[0])


class SyscallFilterTest(unittest.TestCase):
    """The unit's SystemCallFilter=@system-service (with SystemCallErrorNumber=EPERM) would make
    any other system call fail. strace records every call a busy agent makes, from start to
    SIGTERM, with most plugin kinds running; each must be in the filter's set."""

    def allowed(self):
        out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                             text=True, check=True).stdout
        groups, current = {}, None
        for line in out.split("\n"):
            if line.startswith("@"):
                current = groups.setdefault(line.strip(), set())
            elif current is not None and line.strip() and not line.strip().startswith("#"):
                current.add(line.strip())
        def expand(name, seen):
            out = set()
            for m in groups.get(name, ()):
                if m.startswith("@"):
                    if m not in seen:
                        seen.add(m)
                        out |= expand(m, seen)
                else:
                    out.add(m)
            return out
        return expand("@system-service", set())

    def test_agent_syscalls_are_in_system_service(self):
        if os.environ.get("SLUICE_SANITIZE", "none") != "none":
            self.skipTest("the unit runs the shipped binary; a sanitizer's runtime makes system "
                          "calls of its own")
        if not shutil.which("strace"):
            self.fail("strace is not installed (scripts/packages.sh, TEST_PACKAGES)")
        tmp = tempfile.mkdtemp(prefix="sluice-syscalls-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for d in ("tail", "spool", "out", "hdfs", "cp", "data"):
            os.makedirs(os.path.join(tmp, d))
        with open(os.path.join(tmp, "tail", "app.log"), "w") as f:
            f.write("one\ntwo\n")
        with open(os.path.join(tmp, "spool", "a.txt"), "w") as f:
            f.write("spooled\n")
        conf = os.path.join(tmp, "a1.toml")
        with open(conf, "w") as f:
            f.write(f"""
[a1.sources.net]
type = "netcat"
bind = "127.0.0.1"
port = 0
channels = ["file"]

[a1.sources.tail]
type = "TAILDIR"
filegroups = ["f1"]
"filegroups.f1" = '{tmp}/tail/.*\\.log'
positionFile = "{tmp}/positions.json"
channels = ["file"]

[a1.sources.spool]
type = "spooldir"
spoolDir = "{tmp}/spool"
channels = ["mem"]

[a1.sources.exec]
type = "exec"
command = "echo from-exec"
channels = ["mem"]

[[a1.sources.exec.interceptors]]
id = "h"
type = "host"

[a1.channels.file]
type = "file"
checkpointDir = "{tmp}/cp"
dataDirs = "{tmp}/data"

[a1.channels.mem]
type = "memory"

[a1.sinks.roll]
type = "file_roll"
channel = "file"
"sink.directory" = "{tmp}/out"
"sink.rollInterval" = 1

[a1.sinks.hdfs]
type = "hdfs"
channel = "mem"
"hdfs.path" = "{tmp}/hdfs"
"hdfs.fileType" = "DataStream"
""")
        # Not beside the config: the agent watches that directory, and each event it reads would
        # make strace write the trace again.
        trace_dir = tempfile.mkdtemp(prefix="sluice-trace-")
        self.addCleanup(shutil.rmtree, trace_dir, True)
        trace = os.path.join(trace_dir, "trace")
        agent = TracedAgent(conf, tmp, trace)
        try:
            agent.wait_started(60)
            port = agent.port_of("net", 60)
            send_lines(port, ["over-netcat"], read_acks=True)
            mport = agent.monitor_port(60)
            with socket.create_connection(("127.0.0.1", mport), timeout=10) as s:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while s.recv(65536):
                    pass
            self.assertTrue(wait_until(lambda: any(
                "over-netcat" in open(f, errors="replace").read()
                for f in glob.glob(os.path.join(tmp, "out", "*"))), 60), agent.text()[-3000:])
            os.kill(agent.traced_pid(), signal.SIGHUP)
            agent.wait_for("reloading", 60)
        finally:
            os.kill(agent.traced_pid(), signal.SIGTERM)
            agent.proc.wait(timeout=120)  # strace exits with the agent's status
            agent.log.close()
        self.assertEqual(agent.proc.returncode, 0, agent.text()[-3000:])
        used = set()
        for line in open(trace, errors="replace"):
            m = re.match(r"\d+\s+([a-z_0-9]+)\(", line)
            if m:
                used.add(m.group(1))
        self.assertIn("fdatasync", used, "the trace saw no file channel commit")
        allowed = self.allowed()
        self.assertEqual(sorted(used - allowed), [],
                         "system calls outside @system-service (the unit would get EPERM)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
