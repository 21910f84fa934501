#!/usr/bin/env python3
"""Writes sluice(1) from the built binary's own help, so the man page and `--help` are one text:
`sluice --help` gives the commands, `sluice <command> --help` each command's options (every
command the usage lists, so a new command appears here by itself), `sluice version` the version.
What --help does not say (files, environment, exit status, service) is written here, once.

  gen-manpage.py SLUICE_BINARY OUTPUT --plugindir DIR --libexecdir DIR --sysconfdir DIR
"""

import argparse
import datetime
import os
import re
import subprocess
import sys


def run(binary, *args):
    env = dict(os.environ)
    # A sanitizer build runs here too: a leak report at exit is not help text.
    env["ASAN_OPTIONS"] = "detect_leaks=0"
    env.pop("SLUICE_PLUGINS_PATH", None)
    p = subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=60)
    return (p.stdout + p.stderr).rstrip("\n")


def commands(usage):
    """The command words of the usage's "commands:" block ("  agent      run an agent...")."""
    block = usage.split("commands:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^  ([a-z][a-z-]*)\s", block, re.M)


def roff(text):
    """Verbatim text for a .nf block: backslashes, minus signs and control characters escaped."""
    out = []
    for line in text.split("\n"):
        line = line.rstrip().replace("\\", "\\e").replace("-", "\\-")
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return "\n".join(out)


def section(title, body):
    return f".SH {title}\n{body}\n"


def verbatim(text):
    return f".nf\n{roff(text)}\n.fi\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("output")
    ap.add_argument("--plugindir", required=True)
    ap.add_argument("--libexecdir", required=True)
    ap.add_argument("--sysconfdir", required=True)
    ap.add_argument("--flume-ng", help="the built flume-ng script, whose help the page includes")
    a = ap.parse_args()

    usage = run(a.binary, "--help")
    version = run(a.binary, "version").split("\n", 1)[0]  # "sluice 0.1.0 (plugin SDK ABI ...)"
    names = commands(usage)
    if not names:
        sys.exit(f"gen-manpage: no commands in `{a.binary} --help`:\n{usage}")

    # Reproducible builds: the date of SOURCE_DATE_EPOCH when set (Debian sets it from the
    # changelog), none otherwise.
    date = ""
    if "SOURCE_DATE_EPOCH" in os.environ:
        date = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]),
                                               datetime.timezone.utc).strftime("%Y-%m-%d")
    short_version = version.split(" ")[1] if " " in version else version
    page = [f'.TH SLUICE 1 "{date}" "sluice {short_version}" "User Commands"\n']
    page.append(section("NAME", "sluice, flume\\-ng \\- a Flume\\-compatible event agent "
                                "(sources, channels and sinks as plugins)"))
    page.append(section("SYNOPSIS", ".B sluice\n.I command\n.RI [ options ]"))
    page.append(section("DESCRIPTION",
                        "sluice moves events from sources through channels to sinks, configured as "
                        "Apache Flume is, from Flume .properties files or TOML. The text below is "
                        "the program's own help.\n" + verbatim(usage)))
    body = []
    for name in names:
        body.append(f'.SS "sluice {name}"\n' + verbatim(run(a.binary, name, "--help")))
    page.append(section("COMMANDS", "\n".join(body)))
    if a.flume_ng:
        # flume-ng(1) is this page too (a link): Flume's command line, run by sluice.
        flume_help = run(a.flume_ng, "help").replace(a.flume_ng, "flume-ng")
        page.append(section("FLUME-NG",
                            "\\fBflume\\-ng\\fR is Apache Flume's command line over sluice, for "
                            "init scripts and runbooks written for Flume. Its own help:\n"
                            + verbatim(flume_help)))
    page.append(section("FILES", f"""\
.TP
.I {roff(a.plugindir)}
The built\\-in plugins, found without any option (\\fBsluice version\\fR prints where it looks).
.TP
.I {roff(a.sysconfdir)}/sluice/AGENT.toml\\fR, \\fI{roff(a.sysconfdir)}/sluice/AGENT.properties
The configuration of agent AGENT run as the service \\fBsluice@AGENT\\fR (one of the two).
.TP
.I /var/lib/sluice
The service's state: file channels, TAILDIR positions, SQL offsets (kept on upgrade and removal,
deleted on purge).
.TP
.I /var/log/sluice
The service's log files.
.TP
.I {roff(a.libexecdir)}/sluice\\-channel\\-check
The offline file channel checker that \\fBsluice channel\\-check\\fR runs.
.TP
.I {roff(a.libexecdir)}/sluice\\-avro\\-client
The avro client that \\fBsluice avro\\-client\\fR and \\fBflume\\-ng avro\\-client\\fR run.
.TP
.I {roff(a.libexecdir)}/sluice\\-service
What \\fBsluice@AGENT.service\\fR runs: \\fBsluice agent \\-n AGENT \\-f\\fR with whichever of the
two configuration files exists (none or both: exit status 2, not restarted)."""))
    page.append(section("ENVIRONMENT", """\
.TP
.B SLUICE_PLUGINS_PATH
More plugin directories, separated by colons.
.TP
.BR NOTIFY_SOCKET ", " WATCHDOG_USEC
Set by systemd for \\fBType=notify\\fR: \\fBsluice agent\\fR reports READY=1 once every component
started, RELOADING=1 and READY=1 around a reload, STOPPING=1 on shutdown, and WATCHDOG=1 every
half WATCHDOG_USEC while no runner has been stuck in one call for longer than WATCHDOG_USEC."""))
    page.append(section("SIGNALS", """\
The first SIGINT or SIGTERM stops the agent gracefully (sources stop, sinks drain); a second one
exits at once. SIGHUP reloads the configuration."""))
    page.append(section("EXIT STATUS", """\
0 success, 1 a problem with the configuration or the run, 2 bad usage."""))
    page.append(section("SEE ALSO", """\
.BR systemctl (1),
.BR systemd.service (5),
https://flume.apache.org/"""))
    text = "".join(page)
    with open(a.output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
