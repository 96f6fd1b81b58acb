"""The counting proxy of `make bench` counts ECR requests by operation and forwards them intact."""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.proxy import CountingProxy

TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."


class _Echo(BaseHTTPRequestHandler):
    """Answers every POST with the operation it was asked for and the body it received."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        payload = self.headers["X-Amz-Target"].encode() + b" " + body
        self.send_response(500 if b"Fail" in payload else 200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _call(connection: http.client.HTTPConnection, operation: str) -> tuple[int, bytes]:
    connection.request(
        "POST", "/", body=b'{"repositoryName": "r"}', headers={"X-Amz-Target": TARGET_PREFIX + operation}
    )
    response = connection.getresponse()
    return response.status, response.read()


def test_counts_by_operation_over_one_kept_alive_connection(upstream: str) -> None:
    with CountingProxy(upstream, max_lifetime=30) as proxy:
        host, port = proxy.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            answers = [
                _call(connection, op) for op in ("GetLifecyclePolicy", "GetLifecyclePolicy", "TagResource")
            ]
            failed = _call(connection, "FailSomething")
        finally:
            connection.close()
        counts = proxy.counts()
        proxy.reset()
        after_reset = proxy.counts()

    assert answers[2] == (200, f'{TARGET_PREFIX}TagResource {{"repositoryName": "r"}}'.encode())
    assert failed[0] == 500
    assert counts.requests == Counter(GetLifecyclePolicy=2, TagResource=1, FailSomething=1)
    assert counts.errors == 1
    assert counts.peak_in_flight == 1
    assert set(counts.upstream_seconds) == set(counts.requests)
    assert after_reset.total == 0


def test_forwards_to_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        CountingProxy("http://192.0.2.1:80")
