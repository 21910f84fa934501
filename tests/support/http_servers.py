"""HTTP peers for the http source and sink tests: Debian's nginx (nginx-light) in a temporary
directory with a config of its own, a small Python HTTP/1.1 server whose answers the test
controls, a throwaway PKI made with the openssl command line, and curl as the client.

    from http_servers import Nginx, StatusServer, make_pki, curl
"""

import http.server
import json
import os
import signal
import socket
import subprocess
import threading

from sluice_test import free_port, port_open


def make_pki(directory):
    """A CA, a server certificate for localhost and 127.0.0.1 signed by it, and the server's
    PKCS12 key store (password "changeit"); returns a dict of their paths."""
    os.makedirs(directory, exist_ok=True)
    p = {k: os.path.join(directory, f) for k, f in [
        ("ca", "ca.pem"), ("ca_key", "ca.key"), ("cert", "server.pem"), ("key", "server.key"),
        ("p12", "server.p12")]}
    p["password"] = "changeit"
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(a, cwd=directory, check=True, capture_output=True)
    run("openssl", "req", "-x509", *ec, "-days", "2", "-subj", "/CN=sluice-test-ca",
        "-keyout", p["ca_key"], "-out", p["ca"])
    run("openssl", "req", *ec, "-subj", "/CN=localhost", "-keyout", p["key"], "-out", "server.csr")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", p["ca"], "-CAkey", p["ca_key"],
        "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", p["cert"])
    run("openssl", "pkcs12", "-export", "-in", p["cert"], "-inkey", p["key"], "-certfile", p["ca"],
        "-out", p["p12"], "-passout", "pass:" + p["password"])
    return p


def curl(*args, timeout=120):
    """Runs curl; returns (status codes written by -w, the answer bodies, curl's stderr). Every
    call writes '%{http_code} %{num_connects}' per transfer on a line of its own."""
    r = subprocess.run(["curl", "-sS", "-w", "%{http_code} %{num_connects}\\n", *args],
                       capture_output=True, timeout=timeout)
    return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


class Nginx:
    """nginx in `workdir`, started as root in the foreground (daemon off, no master process), on
    a port chosen before it starts (nginx cannot report a port 0).

    Locations:
      /ok            200; the request body is read (proxied to /drop) and logged, one
                     JSON-escaped line per request, in bodies() order
      /status/NNN    answers NNN without reading the body (`return NNN`)
    With tls=(cert, key) it listens with TLS instead."""

    def __init__(self, workdir, tls=None):
        self.dir = workdir
        os.makedirs(os.path.join(workdir, "logs"), exist_ok=True)
        self.port = free_port()
        self.drop_port = free_port()  # the server /ok proxies to, on a port of its own
        self.tls = tls is not None
        listen = f"127.0.0.1:{self.port}" + (" ssl" if tls else "")
        ssl = f"ssl_certificate {tls[0]};\n    ssl_certificate_key {tls[1]};" if tls else ""
        codes = "\n".join(f"    location = /status/{c} {{ return {c}; }}"
                          for c in (200, 201, 204, 400, 404, 409, 429, 500, 502, 503))
        d = workdir
        conf = f"""daemon off;
master_process off;
worker_processes 1;
error_log {d}/logs/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  client_body_buffer_size 1m;
  client_max_body_size 10m;
  log_format bodies escape=json '$request_body';
  access_log off;
  server {{
    listen 127.0.0.1:{self.drop_port};
    location = /drop {{ return 200 "ok\\n"; }}
  }}
  server {{
    listen {listen};
    {ssl}
    location /ok {{
      access_log {d}/logs/bodies.log bodies;
      proxy_pass http://127.0.0.1:{self.drop_port}/drop;
    }}
{codes}
  }}
}}
"""
        self.conf = os.path.join(workdir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.log = open(os.path.join(workdir, "logs", "stderr.log"), "w")
        self.proc = subprocess.Popen(["nginx", "-p", workdir, "-c", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if not port_open(self.port, 15):
            self.stop()
            raise RuntimeError("nginx did not start: " + self.errors())

    def url(self, path):
        return f"{'https' if self.tls else 'http'}://{'localhost' if self.tls else '127.0.0.1'}" \
               f":{self.port}{path}"

    def bodies(self):
        """The bodies /ok received, in order."""
        path = os.path.join(self.dir, "logs", "bodies.log")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads('"' + line.rstrip("\n") + '"') for line in f if line.strip()]

    def errors(self):
        with open(os.path.join(self.dir, "logs", "error.log")) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class StatusServer:
    """A Python HTTP/1.1 server with keep-alive in a thread of the test, on 127.0.0.1:port (0:
    any). Every POST is answered with `status` (or status_for(body) when set); the bodies
    answered 2XX are kept in delivered, every body seen in seen. While `hang` is set, requests
    are read and then held without an answer until it is cleared (or the server stops)."""

    def __init__(self, port=0):
        self.status = 200
        self.status_for = None
        self.hang = threading.Event()
        self.delivered = []
        self.seen = []
        self.lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns = set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode(errors="replace")
                with outer.lock:
                    outer.seen.append(body)
                while outer.hang.is_set() and not outer._stopping.is_set():
                    outer._stopping.wait(0.02)
                if outer._stopping.is_set():
                    self.close_connection = True
                    return
                code = outer.status_for(body) if outer.status_for else outer.status
                if 200 <= code < 300:
                    with outer.lock:
                        outer.delivered.append(body)
                answer = b"thanks\n"
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def setup(self):
                super().setup()
                with outer.lock:
                    outer._conns.add(self.connection)

            def finish(self):
                with outer.lock:
                    outer._conns.discard(self.connection)
                super().finish()

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that gave up on a held answer: expected, not a test failure

        self.httpd = Server(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/events"):
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered_bodies(self):
        with self.lock:
            return list(self.delivered)

    def stop(self):
        """Stops listening and ends every open connection, as a server going down does."""
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        with self.lock:
            for c in list(self._conns):
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.thread.join(timeout=10)
