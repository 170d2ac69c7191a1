"""The agent's HTTP client (broadcaster/agent/http.py) against a real local server: keep-alive, a connection the
server closed while idle, refused and silent servers, streamed and cut bodies, exact request headers."""
from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from broadcaster.agent.http import HttpTransport, Request, TransportError

from tests.serving import FAST_SHUTDOWN
from tests.ports import free_port


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "Server"

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.requests.append((self.command, self.path, list(self.headers.items()),
                                     self.client_address[1]))
        if self.path == "/hello":
            self._reply(200, b"hello")
        elif self.path == "/close":  # answers, then closes the connection (no keep-alive announced)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            self.close_connection = True
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"event: sync\n", b"data: {\"v\": 1}\n\n", b": ping\n"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/cut":  # promises 1,000 bytes, sends 300, hangs up
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 300)
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/slow":
            time.sleep(2.0)
            self._reply(200, b"late")
        elif self.path == "/304":
            self.send_response(304)
            self.send_header("ETag", '"v1"')
            self.end_headers()

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.command, self.path, list(self.headers.items()), self.client_address[1]))
        self._reply(200, b"got " + body)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list = []


@pytest.fixture
def server():
    srv = Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs=FAST_SHUTDOWN, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def get(srv, path: str, timeout: float = 5.0, headers=None) -> Request:  # noqa: ANN001
    return Request("GET", srv.url + path, headers or [("Host", "127.0.0.1")], None, timeout)


def test_keep_alive_reuses_one_connection(server):
    t = HttpTransport()
    for _ in range(3):
        r = t.handle(get(server, "/hello"))
        assert (r.status_code, r.read()) == (200, b"hello")
    assert len({port for *_, port in server.requests}) == 1
    t.close()


def test_a_connection_closed_by_the_server_is_not_reused_and_the_next_request_works(server):
    t = HttpTransport()
    assert t.handle(get(server, "/close")).read() == b"ok"
    assert t.handle(get(server, "/hello")).read() == b"hello"
    assert len({port for *_, port in server.requests}) == 2


def test_an_idle_connection_the_server_dropped_is_retried_once_on_a_fresh_one():
    """A raw server that answers one request per connection, announcing keep-alive, then hangs up while the
    client holds the connection idle (a station restart, a proxy's idle timeout)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    served: list[int] = []
    hung_up = threading.Event()

    def serve() -> None:
        for n in range(2):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                served.append(n)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello")
                time.sleep(0.1)
            hung_up.set()

    threading.Thread(target=serve, daemon=True).start()
    t = HttpTransport()
    url = f"http://127.0.0.1:{port}/x"
    assert t.handle(Request("GET", url, [("Host", "x")])).read() == b"hello"
    assert hung_up.wait(5)
    assert t.handle(Request("GET", url, [("Host", "x")])).read() == b"hello"  # no error reaches the caller
    assert served == [0, 1]
    listener.close()


def test_refused_is_a_transport_error():
    port = free_port()  # nothing listens there: our slice, below the ephemeral range
    with pytest.raises(TransportError):
        HttpTransport(connect_timeout=2).handle(Request("GET", f"http://127.0.0.1:{port}/", [("Host", "x")]))


def test_a_silent_server_times_out_within_the_read_timeout(server):
    t0 = time.monotonic()
    with pytest.raises(TransportError):
        HttpTransport().handle(get(server, "/slow", timeout=0.3))
    assert time.monotonic() - t0 < 1.5


def test_chunked_body_streams_and_splits_into_lines(server):
    r = HttpTransport().handle(get(server, "/chunked"))
    assert list(r.iter_lines()) == ["event: sync", 'data: {"v": 1}', "", ": ping"]


def test_a_body_cut_short_raises_after_what_arrived_and_the_connection_is_dropped(server):
    t = HttpTransport()
    r = t.handle(get(server, "/cut"))
    got = b""
    with pytest.raises(TransportError):
        for chunk in r.iter_raw():
            got += chunk
    assert got == b"x" * 300  # every byte that arrived was handed over (the agent resumes from there)
    assert t.handle(get(server, "/hello")).read() == b"hello"
    assert len({port for *_, port in server.requests}) == 2


def test_304_has_no_body_and_keeps_the_connection(server):
    t = HttpTransport()
    r = t.handle(get(server, "/304"))
    assert (r.status_code, r.headers["etag"], r.read()) == (304, '"v1"', b"")
    assert t.handle(get(server, "/hello")).read() == b"hello"
    assert len({port for *_, port in server.requests}) == 1


def test_request_headers_go_out_exactly_as_listed(server):
    headers = [("Host", "station.example"), ("Authorization", "Bearer loa_dev_x"), ("Content-Type", "application/json"),
               ("Content-Length", "7")]
    r = HttpTransport().handle(Request("POST", server.url + "/plays?x=1", headers, b'{"a":1}'))
    assert r.read() == b'got {"a":1}'
    method, path, sent, _ = server.requests[-1]
    assert (method, path) == ("POST", "/plays?x=1")
    assert sent == headers  # nothing added (no Accept-Encoding, no User-Agent behind the caller's back)


def test_headers_are_case_insensitive(server):
    r = HttpTransport().handle(get(server, "/hello"))
    assert r.headers.get("content-length") == r.headers["Content-Length"] == "5"
    assert "CONTENT-LENGTH" in r.headers and "x-nothing" not in r.headers
    assert dict(r.headers)["content-length"] == "5"


def _self_signed(tmp_path):  # noqa: ANN001, ANN202
    """A certificate for 127.0.0.1, made here with `cryptography` (what a station behind its own CA looks like)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loa-test-station")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_https_verifies_the_station_certificate(tmp_path):
    import ssl

    cert_file, key_file = _self_signed(tmp_path)
    srv = Server()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    srv.socket = server_ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, kwargs=FAST_SHUTDOWN, daemon=True).start()
    url = f"https://127.0.0.1:{srv.server_address[1]}/hello"
    try:
        # not trusted by the system store: refused, never spoken to in clear or unverified
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            HttpTransport().handle(Request("GET", url, [("Host", "127.0.0.1")]))
        trusting = ssl.create_default_context(cafile=str(cert_file))
        r = HttpTransport(ssl_context=trusting).handle(Request("GET", url, [("Host", "127.0.0.1")]))
        assert (r.status_code, r.read()) == (200, b"hello")
        # what docs/device-protocol.md tells a station with its own CA to do: SSL_CERT_FILE in the agent's env
        import os
        import subprocess
        import sys

        code = ("from broadcaster.agent.http import HttpTransport, Request; "
                f"print(HttpTransport().handle(Request('GET', {url!r}, [('Host', '127.0.0.1')])).read().decode())")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                             env={**os.environ, "SSL_CERT_FILE": str(cert_file)})
        assert out.stdout.strip() == "hello", out.stderr
    finally:
        srv.shutdown()
        srv.server_close()
