"""An independent Avro RPC peer for sluice's avro source and sink tests: Flume's
AvroSourceProtocol over Avro IPC with Netty framing, encoded and decoded by Apache Avro's Python
library (Debian: python3-avro), not by sluice's C++.

- AvroClient: what Flume's AvroSink/NettyAvroRpcClient does on the wire: the handshake on a
  connection's first request (resending with the protocol text after a NONE), then append or
  appendBatch, answered by a Status.
- AvroServer: what Flume's AvroSource (Java Responder on NettyServer) does: it answers an unknown
  client hash without text with NONE, learns the text of the resend (parsing it with
  avro.protocol.parse, so a malformed text fails the test), and answers each request OK (or
  FAILED while `fail` is set), recording the events.

The protocol here is written independently of sluice's copy; its Python rendering differs from
Java's text, so its MD5 differs from sluice's and every first handshake takes the NONE path.
"""

import hashlib
import io
import json
import socket
import struct
import sys
import threading
import zlib

try:
    import avro.io
    import avro.ipc
    import avro.protocol
except ImportError:  # a Python other than Debian's (pyenv): use Debian's pure-Python package
    sys.path.append("/usr/lib/python3/dist-packages")
    import avro.io
    import avro.ipc
    import avro.protocol

PROTOCOL_JSON = json.dumps({
    "protocol": "AvroSourceProtocol",
    "namespace": "org.apache.flume.source.avro",
    "types": [
        {"type": "enum", "name": "Status", "symbols": ["OK", "FAILED", "UNKNOWN"]},
        {"type": "record", "name": "AvroFlumeEvent", "fields": [
            {"name": "headers", "type": {"type": "map", "values": "string"}},
            {"name": "body", "type": "bytes"}]},
    ],
    "messages": {
        "append": {"request": [{"name": "event", "type": "AvroFlumeEvent"}],
                   "response": "Status"},
        "appendBatch": {"request": [{"name": "events",
                                     "type": {"type": "array", "items": "AvroFlumeEvent"}}],
                        "response": "Status"},
    },
}, indent=2)
PROTOCOL = avro.protocol.parse(PROTOCOL_JSON)
PROTOCOL_MD5 = hashlib.md5(PROTOCOL_JSON.encode()).digest()

JAVA_BUFFER_SIZE = 8192  # Java's ByteBufferOutputStream cuts the payload into buffers this big


class RemoteError(Exception):
    pass


def frame(serial, payload, buffer_size=JAVA_BUFFER_SIZE):
    """Netty framing: serial, buffer count, then length + bytes per buffer (big-endian)."""
    buffers = [payload[i:i + buffer_size] for i in range(0, len(payload), buffer_size)] or [b""]
    out = [struct.pack("!ii", serial, len(buffers))]
    for b in buffers:
        out.append(struct.pack("!i", len(b)))
        out.append(b)
    return b"".join(out)


class _Stream:
    """A socket's byte stream, optionally a zlib stream each way (Netty's Zlib codecs)."""

    def __init__(self, sock, deflate):
        self.sock = sock
        self.buf = b""
        self.deflater = zlib.compressobj(6) if deflate else None
        self.inflater = zlib.decompressobj() if deflate else None

    def send(self, data):
        if self.deflater:
            data = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += self.inflater.decompress(chunk) if self.inflater else chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        serial, count = struct.unpack("!ii", self._read(8))
        parts = []
        for _ in range(count):
            (length,) = struct.unpack("!i", self._read(4))
            parts.append(self._read(length))
        return serial, b"".join(parts)


class AvroClient:
    """A Netty-transport Avro requestor of AvroSourceProtocol. client_hash/server_hash override
    what the handshake claims (default: this protocol's hash, and a guess that the server has the
    same)."""

    def __init__(self, port, deflate=False, timeout=20, client_hash=None, send_protocol=False,
                 ssl_context=None, server_hostname="localhost"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ssl_context is not None:  # Python's ssl module (OpenSSL, but not sluice's code)
            self.sock = ssl_context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.stream = _Stream(self.sock, deflate)
        self.client_hash = client_hash or PROTOCOL_MD5
        self.server_hash = PROTOCOL_MD5
        self.send_protocol = send_protocol
        self.handshaken = False
        self.serial = 0
        self.matches = []  # every handshake answer's match
        self.server_protocol = None  # (text, hash) from a NONE or CLIENT answer

    def close(self):
        self.sock.close()

    def _encode(self, message_name, datum):
        buf = io.BytesIO()
        enc = avro.io.BinaryEncoder(buf)
        if not self.handshaken:
            avro.ipc.HANDSHAKE_REQUESTOR_WRITER.write({
                "clientHash": self.client_hash,
                "clientProtocol": PROTOCOL_JSON if self.send_protocol else None,
                "serverHash": self.server_hash,
                "meta": None,
            }, enc)
        avro.ipc.META_WRITER.write({}, enc)
        enc.write_utf8(message_name)
        if message_name:
            message = PROTOCOL.messages[message_name]
            avro.io.DatumWriter(message.request).write(datum, enc)
        return buf.getvalue()

    def request(self, message_name, datum):
        """Returns the Status symbol ("OK", "FAILED"); raises RemoteError for an error answer."""
        for _ in range(3):
            self.serial += 1
            self.stream.send(frame(self.serial, self._encode(message_name, datum)))
            serial, payload = self.stream.read_frame()
            if serial != self.serial:
                raise AssertionError(f"answer serial {serial} for request {self.serial}")
            dec = avro.io.BinaryDecoder(io.BytesIO(payload))
            if not self.handshaken:
                hs = avro.ipc.HANDSHAKE_REQUESTOR_READER.read(dec)
                self.matches.append(hs["match"])
                if hs["serverProtocol"] is not None:
                    self.server_protocol = (hs["serverProtocol"], hs["serverHash"])
                    self.server_hash = hs["serverHash"]
                if hs["match"] == "NONE":
                    self.send_protocol = True
                    continue
                self.handshaken = True
            avro.ipc.META_READER.read(dec)
            if dec.read_boolean():
                raise RemoteError(avro.io.DatumReader(avro.ipc.SYSTEM_ERROR_SCHEMA).read(dec))
            return avro.io.DatumReader(PROTOCOL.messages[message_name].response).read(dec)
        raise AssertionError("the server answered NONE three times")

    def append_batch(self, events):
        """events: [(headers dict, body bytes)]"""
        return self.request("appendBatch", {"events": [
            {"headers": h, "body": b} for h, b in events]})

    def append(self, headers, body):
        return self.request("append", {"event": {"headers": headers, "body": body}})


class AvroServer:
    """A Netty-transport Avro responder of AvroSourceProtocol on 127.0.0.1 (port 0: any).
    Records (headers, body) of every event it answers OK; `fail` makes it answer FAILED."""

    def __init__(self, port=0, deflate=False, ssl_context=None):
        self.deflate = deflate
        self.ssl_context = ssl_context
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.events = []
        self.matches = []        # the match of every handshake answered
        self.client_texts = []   # protocol texts clients sent (parsed and checked)
        self.fail = False
        self.lock = threading.Lock()
        self.known = {PROTOCOL_MD5: PROTOCOL}
        self.stopping = False
        self.threads = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def stop(self):
        self.stopping = True
        self.acceptor.join()
        self.lsock.close()
        for t in self.threads:
            t.join(5)

    def received(self):
        with self.lock:
            return list(self.events)

    def _accept(self):
        while not self.stopping:
            try:
                sock, _ = self.lsock.accept()
            except socket.timeout:
                continue
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, sock):
        if self.ssl_context is not None:
            sock.settimeout(10)
            try:
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
            except (OSError, ValueError):
                sock.close()
                with self.lock:
                    self.matches.append("TLS-FAILED")
                return
        sock.settimeout(0.2)
        stream = _Stream(sock, self.deflate)
        remote = None
        try:
            while not self.stopping:
                try:
                    serial, payload = stream.read_frame()
                except socket.timeout:
                    continue
                dec = avro.io.BinaryDecoder(io.BytesIO(payload))
                out = io.BytesIO()
                enc = avro.io.BinaryEncoder(out)
                if remote is None:
                    hs = avro.ipc.HANDSHAKE_RESPONDER_READER.read(dec)
                    remote = self.known.get(hs["clientHash"])
                    if remote is None and hs["clientProtocol"] is not None:
                        remote = avro.protocol.parse(hs["clientProtocol"])
                        assert set(remote.messages) == {"append", "appendBatch"}, remote.messages
                        with self.lock:
                            self.client_texts.append(hs["clientProtocol"])
                        self.known[hs["clientHash"]] = remote
                    if remote is None:
                        match = "NONE"
                    elif hs["serverHash"] == PROTOCOL_MD5:
                        match = "BOTH"
                    else:
                        match = "CLIENT"
                    with self.lock:
                        self.matches.append(match)
                    avro.ipc.HANDSHAKE_RESPONDER_WRITER.write({
                        "match": match,
                        "serverProtocol": None if match == "BOTH" else PROTOCOL_JSON,
                        "serverHash": None if match == "BOTH" else PROTOCOL_MD5,
                        "meta": None,
                    }, enc)
                    if match == "NONE":
                        stream.send(frame(serial, out.getvalue()))
                        continue
                avro.ipc.META_READER.read(dec)
                name = dec.read_utf8()
                # Read with the client's schema, resolved against ours (Avro schema resolution).
                request = avro.io.DatumReader(remote.messages[name].request,
                                              PROTOCOL.messages[name].request).read(dec)
                events = request["events"] if name == "appendBatch" else [request["event"]]
                status = "FAILED" if self.fail else "OK"
                if status == "OK":
                    with self.lock:
                        self.events.extend((e["headers"], e["body"]) for e in events)
                avro.ipc.META_WRITER.write({}, enc)
                enc.write_boolean(False)
                avro.io.DatumWriter(PROTOCOL.messages[name].response).write(status, enc)
                stream.send(frame(serial, out.getvalue()))
        except (EOFError, ConnectionError, OSError):
            pass
        finally:
            sock.close()
