"""Real database servers for the SQL source's tests, examples and benchmark: Debian's MariaDB
(mariadbd) and PostgreSQL 15, each in a temporary directory on a free port, started and stopped
by the test (PLATFORM.md has the recipes). Readiness is polled, never slept for.

    from sql_servers import MariaDB, Postgres
    with MariaDB() as m:
        m.sql("CREATE TABLE t (id INT PRIMARY KEY)")
        m.url        # jdbc:mysql://127.0.0.1:PORT/app
        m.restart()  # same data directory and port
    with Postgres() as p:
        p.sql("SELECT 1")

Both give an application user `app` (password `m.password`) that owns database `app`, reachable
over TCP on 127.0.0.1; `sql()` runs statements as the superuser over the unix socket with the
server's own command-line client.

Run as a script it serves other programs:
    sql_servers.py --run CMD ARGS...   starts both, runs CMD with SLUICE_TEST_MYSQL_* and
                                       SLUICE_TEST_PG_* in its environment, stops both, exits
                                       with CMD's status (the C++ tests use this)
    sql_servers.py --serve [mysql|pg]  starts them, prints SQL_MYSQL_URL=..., SQL_PG_SOCKET=...
                                       lines and "ready"; stops them when stdin closes
                                       (scripts/bench.d/sql.sh)
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MARIADB_PASSWORD = "app-Pw.1"
PG_PASSWORD = "app-Pw.2"
PG_BIN = "/usr/lib/postgresql/15/bin"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(cond, timeout, what, log=None):
    """Polls cond() until it is true; raises with the tail of `log` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    if cond():
        return
    tail = ""
    if log and os.path.exists(log):
        with open(log, errors="replace") as f:
            tail = f.read()[-3000:]
    raise RuntimeError(f"{what} within {timeout} s\n{tail}")


def make_certificates(directory, owner=None):
    """A test CA and a server certificate for 127.0.0.1/localhost signed by it, made with the
    openssl command line: returns {"ca", "cert", "key"} paths (PEM). owner: a user to own them
    (PostgreSQL wants its key owned by itself and private)."""
    os.makedirs(directory, exist_ok=True)
    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    key, csr = os.path.join(directory, "server.key"), os.path.join(directory, "server.csr")
    cert, ext = os.path.join(directory, "server.pem"), os.path.join(directory, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for args in (
            ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=sluice test CA", "-keyout", ca_key, "-out", ca],
            ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key,
             "-out", csr],
            ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days",
             "2", "-extfile", ext, "-out", cert]):
        r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("openssl " + " ".join(args[:2]) + " failed: " + r.stderr)
    os.chmod(key, 0o600)
    if owner:
        for path in (directory, key, cert, ca):
            shutil.chown(path, owner)
    return {"ca": ca, "cert": cert, "key": key}


def _tcp_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class _Server:
    """What both servers share: a temp dir, a port, start/stop/restart, a context manager."""

    dialect = ""

    def __init__(self, port=None, tls=False):
        """tls: also accept TLS connections, with a certificate from a test CA (self.tls["ca"])."""
        self.dir = tempfile.mkdtemp(prefix=f"sluice-{self.dialect}-", dir=self._parent())
        self.port = port or _free_port()
        self.tls = None
        if tls:
            owner = "postgres" if self.dialect == "postgres" and os.geteuid() == 0 else None
            if owner:
                shutil.chown(self.dir, owner)
            self.tls = make_certificates(os.path.join(self.dir, "tls"), owner)
        self.user = "app"
        self.database = "app"
        self.proc = None
        self._init()
        self.start()
        self._create_app_user()

    @staticmethod
    def _parent():
        """The temporary directory, unless the postgres user could not reach into it (a private
        TMPDIR of root's): then /tmp."""
        parent = tempfile.gettempdir()
        path = parent
        while path != os.path.dirname(path):
            if not os.stat(path).st_mode & 0o001:
                return "/tmp"
            path = os.path.dirname(path)
        return parent

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def restart(self):
        """Stops the server cleanly and starts it again on the same port and data."""
        self.stop()
        self.start()

    def close(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def env(self, prefix):
        """KEY=VALUE pairs describing the server, for other processes (_SOCKET: MariaDB's unix
        socket, or PostgreSQL's socket directory, for the superuser's client)."""
        return {f"{prefix}_URL": self.url, f"{prefix}_USER": self.user,
                f"{prefix}_PASSWORD": self.password, f"{prefix}_PORT": str(self.port),
                f"{prefix}_HOST": "127.0.0.1", f"{prefix}_DATABASE": self.database,
                f"{prefix}_SOCKET": self.socket_path}


class MariaDB(_Server):
    dialect = "mariadb"
    password = MARIADB_PASSWORD

    @property
    def url(self):
        return f"jdbc:mysql://127.0.0.1:{self.port}/{self.database}"

    @property
    def socket(self):
        return os.path.join(self.dir, "mysqld.sock")

    socket_path = socket

    def _init(self):
        self.datadir = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "err.log")
        r = subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={self.datadir}",
             *(["--user=root"] if os.geteuid() == 0 else []),
             "--auth-root-authentication-method=socket", "--skip-test-db"],
            capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("mariadb-install-db failed:\n" + r.stdout + r.stderr)

    def start(self):
        args = ["mariadbd", "--no-defaults", f"--datadir={self.datadir}",
                f"--socket={self.socket}", f"--port={self.port}", "--bind-address=127.0.0.1",
                f"--pid-file={os.path.join(self.dir, 'pid')}", f"--log-error={self.log}",
                "--skip-log-bin", "--innodb-buffer-pool-size=64M",
                # Small and quick on a shared 2-core machine; a 1 MB text column needs a bigger
                # packet than the 16 MB default only for much larger tests.
                "--innodb-log-file-size=48M", "--max-allowed-packet=64M",
                "--innodb-flush-log-at-trx-commit=2", "--skip-name-resolve"]
        if self.tls:
            args += [f"--ssl-ca={self.tls['ca']}", f"--ssl-cert={self.tls['cert']}",
                     f"--ssl-key={self.tls['key']}"]
        if os.geteuid() == 0:
            args.append("--user=root")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: self.proc.poll() is not None or self._ping(), 60,
              "mariadbd did not answer a ping", self.log)
        if self.proc.poll() is not None:
            raise RuntimeError(f"mariadbd exited with status {self.proc.returncode}:\n"
                               + open(self.log, errors="replace").read()[-3000:])
        _wait(lambda: _tcp_open(self.port), 30, f"mariadbd did not listen on {self.port}",
              self.log)

    def _ping(self):
        r = subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.socket}", "-uroot",
                            "--connect-timeout=2", "ping"], capture_output=True, timeout=30)
        return r.returncode == 0

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            return
        self.proc.send_signal(signal.SIGTERM)  # mariadbd shuts down cleanly on SIGTERM
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def kill(self):
        """SIGKILL: the server crashes; start() recovers it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def _create_app_user(self):
        self.sql(f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4;"
                 f"CREATE USER '{self.user}'@'%' IDENTIFIED BY '{self.password}';"
                 f"GRANT ALL ON {self.database}.* TO '{self.user}'@'%';", database="")

    def sql(self, statements, database=None, timeout=600):
        """Runs statements as root; returns stdout (tab-separated rows, no column names)."""
        db = self.database if database is None else database
        args = ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-B",
                "--default-character-set=utf8mb4"]
        if db:
            args.append(db)
        r = subprocess.run(args, input=statements, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"mariadb: {r.stderr.strip()}\nin: {statements[:500]}")
        return r.stdout

    def client_command(self):
        """The superuser's client reading statements from stdin, as an argv."""
        return ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-N", "-B",
                self.database]

    def export_command(self, query):
        """The server's own export of a query's rows (mariadb --batch), as an argv."""
        return ["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "--batch",
                "--quick", "-N", self.database, "-e", query]


class Postgres(_Server):
    dialect = "postgres"
    password = PG_PASSWORD

    @property
    def url(self):
        return f"jdbc:postgresql://127.0.0.1:{self.port}/{self.database}"

    @property
    def socket_path(self):
        return self.dir

    def _as_postgres(self, args):
        # PostgreSQL refuses to run as root: run its programs as the package's postgres user.
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def _init(self):
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self.datadir = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "log")
        r = subprocess.run(self._as_postgres(
            [f"{PG_BIN}/initdb", "-D", self.datadir, "--auth-local=trust",
             "--auth-host=scram-sha-256", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8"]),
            capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout + r.stderr)

    def start(self):
        # fsync=off keeps the tests off the disk, yet a commit still writes its WAL to the OS
        # before it returns (synchronous_commit stays on): kill() is a crash of the server, not of
        # the machine, so what a test committed must survive it. With synchronous_commit=off an
        # immediate shutdown dropped the last 200 ms of commits, a whole test table among them.
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c full_page_writes=off -c shared_buffers=64MB")
        if self.tls:
            opts += (f" -c ssl=on -c ssl_cert_file={self.tls['cert']}"
                     f" -c ssl_key_file={self.tls['key']}")
        r = subprocess.run(self._as_postgres(
            [f"{PG_BIN}/pg_ctl", "-D", self.datadir, "-o", opts, "-l", self.log, "-w", "-t",
             "60", "start"]), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            tail = open(self.log, errors="replace").read()[-3000:] if os.path.exists(self.log) else ""
            raise RuntimeError("pg_ctl start failed:\n" + r.stdout + r.stderr + tail)
        self.proc = True
        _wait(self._ready, 60, "PostgreSQL did not accept connections", self.log)

    def _ready(self):
        r = subprocess.run([f"{PG_BIN}/pg_isready", "-h", self.dir, "-p", str(self.port), "-q"],
                           capture_output=True, timeout=30)
        return r.returncode == 0 and _tcp_open(self.port)

    def _pg_ctl_stop(self, mode):
        subprocess.run(self._as_postgres(
            [f"{PG_BIN}/pg_ctl", "-D", self.datadir, "-m", mode, "-w", "-t", "60", "stop"]),
            capture_output=True, timeout=120)

    def stop(self):
        if self.proc is None:
            return
        self._pg_ctl_stop("fast")
        self.proc = None

    def kill(self):
        """Immediate shutdown (no checkpoint): the next start() runs crash recovery."""
        if self.proc is not None:
            self._pg_ctl_stop("immediate")
        self.proc = None

    def _create_app_user(self):
        self.sql(f"CREATE USER {self.user} PASSWORD '{self.password}'", database="postgres")
        self.sql(f"CREATE DATABASE {self.database} OWNER {self.user} ENCODING 'UTF8'",
                 database="postgres")
        self.sql(f"ALTER SCHEMA public OWNER TO {self.user}")

    def sql(self, statements, database=None, timeout=600):
        """Runs statements as the superuser; returns stdout (unaligned, tab-separated)."""
        db = self.database if database is None else database
        r = subprocess.run(
            ["psql", "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d", db, "-X",
             "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"],
            input=statements, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr.strip()}\nin: {statements[:500]}")
        return r.stdout

    def client_command(self):
        """The superuser's client reading statements from stdin, as an argv."""
        return ["psql", "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d",
                self.database, "-X", "-q"]

    def export_command(self, query):
        """The server's own export of a query's rows (COPY ... TO STDOUT), as an argv."""
        return ["psql", "-h", self.dir, "-p", str(self.port), "-U", "postgres", "-d",
                self.database, "-X", "-q", "-c", f"COPY ({query}) TO STDOUT"]


def _main(argv):
    if len(argv) >= 2 and argv[0] == "--run":
        with MariaDB() as m, Postgres() as p:
            env = dict(os.environ)
            env.update(m.env("SLUICE_TEST_MYSQL"))
            env.update(p.env("SLUICE_TEST_PG"))
            return subprocess.run(argv[1:], env=env).returncode
    if argv and argv[0] == "--serve":
        which = argv[1:] or ["mysql", "pg"]
        servers = []
        try:
            # Not MYSQL_*: the mariadb client reads MYSQL_HOST and friends from its environment.
            for name, prefix, cls in (("mysql", "SQL_MYSQL", MariaDB), ("pg", "SQL_PG", Postgres)):
                if name not in which:
                    continue
                server = cls()
                servers.append(server)
                for k, v in server.env(prefix).items():
                    print(f"{k}={v}")
            print("ready", flush=True)
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            sys.stdin.read()  # until the caller closes our stdin (or kills us with SIGTERM)
        finally:
            for s in servers:
                s.close()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
