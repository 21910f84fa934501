#!/usr/bin/env python3
"""Step (e) of run_sql_oot_test.sh: an agent whose SQL source is the out-of-tree build imports a
MariaDB table (a real server, tests/support/sql_servers.py) into file_roll; every row arrives
once, in order, and the status file records the last id.

Usage: oot_agent_test.py <sluice> <plugins-path> <workdir>"""

import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
from sql_servers import MariaDB  # noqa: E402

ROWS = 1000


def lines(directory):
    out = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), encoding="utf-8") as f:
            out.extend(f.read().splitlines())
    return out


def main(sluice, plugins, work):
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "out")
    os.makedirs(out)
    with MariaDB() as db:
        db.sql("CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(40));"
               f"INSERT INTO items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_{ROWS}")
        pw = os.path.join(work, "pw")
        with open(pw, "w") as f:
            f.write(db.password + "\n")
        conf = os.path.join(work, "oot.toml")
        with open(conf, "w") as f:
            f.write(f"""
[a1.sources.r1]
type = "org.keedio.flume.source.SQLSource"
"hibernate.connection.url" = "{db.url}"
"hibernate.connection.user" = "{db.user}"
"connection.password.file" = "{pw}"
table = "items"
"incremental.column.name" = "id"
"status.file.path" = "{work}"
"status.file.name" = "items.status"
"enclose.by.quotes" = false
"batch.size" = 100
"run.query.delay" = 100
channels = ["c1"]

[a1.channels.c1]
type = "memory"
capacity = 10000
transactionCapacity = 1000

[a1.sinks.k1]
type = "file_roll"
channel = "c1"
"sink.directory" = "{out}"
"sink.rollInterval" = 0
""")
        log = os.path.join(work, "agent.log")
        with open(log, "w") as lf:
            agent = subprocess.Popen([sluice, "agent", "-n", "a1", "-f", conf, "--no-reload-conf",
                                      "--plugins-path", plugins], stdout=lf, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while len(lines(out)) < ROWS and agent.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            agent.send_signal(signal.SIGTERM)
            rc = agent.wait(timeout=30)
        text = open(log, errors="replace").read()
        got = lines(out)
        want = [f"{i},item {i}" for i in range(1, ROWS + 1)]
        if rc != 0 or got != want:
            print(text[-4000:], file=sys.stderr)
            print(f"exit {rc}; {len(got)} lines, want {ROWS}", file=sys.stderr)
            return 1
        with open(os.path.join(work, "items.status")) as f:
            status = json.load(f)
        if status.get("LastIndex") != str(ROWS):
            print(f"status file: {status}", file=sys.stderr)
            return 1
        print(f"   {ROWS} rows imported through the out-of-tree plugin, each once; "
              f"LastIndex {status['LastIndex']}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
