"""A counting HTTP proxy on loopback: the CLI talks to it, it forwards to moto_server, and it counts.

Each ECR request is a JSON POST whose ``X-Amz-Target`` header names the operation
(``AmazonEC2ContainerRegistry_V20150921.DescribeRepositories``), so counting needs no botocore hook and
does not touch the product. Per operation it records the number of requests, the summed upstream time
(how long moto_server took to answer, seen from the proxy) and the peak number of requests in flight.
``delay`` holds every request back before forwarding it, to simulate a network round trip, and
``throttle(rate, burst)`` gives every operation a token bucket of its own: a request that finds it empty is
answered as ECR answers when throttled (HTTP 400, ``ThrottlingException``) and never reaches moto_server.
Retries are the requests whose ``amz-sdk-request`` header (botocore's) says ``attempt=2`` or later.

Bounded: loopback only (listening and upstream), bodies up to ``MAX_BODY`` bytes, at most
``MAX_CONNECTIONS`` client connections at once, idle connections closed after ``IDLE_TIMEOUT`` s, and the
whole proxy shuts itself down after ``max_lifetime`` seconds even if nobody stops it.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

MAX_BODY = 16 * 1024 * 1024
MAX_CONNECTIONS = 64
IDLE_TIMEOUT = 30.0
DEFAULT_LIFETIME = 3600.0
# Connection-level headers are not forwarded (RFC 9110 7.6.1); the proxy sets its own Content-Length.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
# What ECR (JSON protocol) answers a throttled call: botocore reads the code from ``__type``.
THROTTLED_BODY = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
THROTTLED_HEADERS = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", "throttled")]


class TokenBucket:
    """``rate`` tokens a second up to ``burst``, starting full; ``take()`` spends one if there is one."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        check_limit(rate, burst)
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._at = burst, clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def check_limit(rate: float, burst: float) -> None:
    if rate <= 0 or burst < 1:
        raise ValueError(f"a bucket needs rate > 0 and burst >= 1, not {rate} and {burst}")


def attempt_of(header: str | None) -> int:
    """``2`` from botocore's ``amz-sdk-request: attempt=2; max=8``; 1 when absent."""
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "attempt" and value.isdigit():
            return int(value)
    return 1


def operation_of(target: str | None, method: str, path: str) -> str:
    """``DescribeRepositories`` from an ``X-Amz-Target``; ``GET /path`` for anything else."""
    if target:
        return target.rsplit(".", 1)[-1]
    return f"{method} {urllib.parse.urlsplit(path).path}"


@dataclass
class Counts:
    """A snapshot of what the proxy saw since the last reset."""

    requests: Counter[str] = field(default_factory=Counter)
    upstream_seconds: dict[str, float] = field(default_factory=dict)
    peak_in_flight: int = 0
    errors: int = 0
    throttled: Counter[str] = field(default_factory=Counter)  # answered 400 ThrottlingException
    retries: Counter[str] = field(default_factory=Counter)  # attempt 2 or later, throttled or not

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def served(self) -> Counter[str]:
        """Requests by operation that reached moto_server (not throttled)."""
        return self.requests - self.throttled


class _Tally:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._seconds: defaultdict[str, float] = defaultdict(float)
        self._in_flight = 0
        self._peak = 0
        self._errors = 0
        self._throttled: Counter[str] = Counter()
        self._retries: Counter[str] = Counter()

    def start(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def finish(
        self, operation: str, seconds: float, *, failed: bool, throttled: bool = False, retry: bool = False
    ) -> None:
        with self._lock:
            self._in_flight -= 1
            self._requests[operation] += 1
            self._seconds[operation] += seconds
            self._errors += failed
            self._throttled[operation] += throttled
            self._retries[operation] += retry

    def snapshot(self) -> Counts:
        with self._lock:
            return Counts(
                Counter(self._requests),
                dict(self._seconds),
                self._peak,
                self._errors,
                +self._throttled,
                +self._retries,
            )

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._seconds.clear()
            self._peak = self._in_flight
            self._errors = 0
            self._throttled.clear()
            self._retries.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    timeout = IDLE_TIMEOUT
    server: _ProxyServer
    upstream: http.client.HTTPConnection | None = None
    error_message_format = "%(code)d %(message)s"

    def do_POST(self) -> None:
        self._forward()

    def do_GET(self) -> None:
        self._forward()

    def do_PUT(self) -> None:
        self._forward()

    def do_DELETE(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY or "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.send_error(413, "body too large or chunked")
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        operation = operation_of(self.headers.get("X-Amz-Target"), self.command, self.path)
        retry = attempt_of(self.headers.get("amz-sdk-request")) > 1
        tally = self.server.tally
        tally.start()
        started = time.perf_counter()
        if self.server.delay:
            time.sleep(self.server.delay)  # a simulated network round trip, counted in the upstream time
        if not self.server.admit(operation):
            status, reason, response_headers, payload = 400, "Bad Request", THROTTLED_HEADERS, THROTTLED_BODY
            tally.finish(operation, time.perf_counter() - started, failed=False, throttled=True, retry=retry)
        else:
            failed = True
            try:
                status, reason, response_headers, payload = self._upstream_call(body, headers)
                failed = status >= 500
            except (OSError, http.client.HTTPException) as error:
                status, reason, response_headers, payload = 502, "Bad Gateway", [], str(error).encode()
            finally:
                tally.finish(operation, time.perf_counter() - started, failed=failed, retry=retry)
        # Status line, headers and body in ONE write: split writes meet Nagle and delayed ACKs (~40 ms).
        lines = [f"{self.protocol_version} {status} {reason}"]
        lines += [
            f"{k}: {v}" for k, v in response_headers if k.lower() not in {*HOP_BY_HOP, "content-length"}
        ]
        lines.append(f"Content-Length: {len(payload)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (payload if self.command != "HEAD" else b""))

    def _upstream_call(
        self, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        # One upstream connection per client connection, reused while the client keeps its own alive;
        # a stale one (the server closed it) is replaced once.
        for attempt in (1, 2):
            if self.upstream is None:
                host, port = self.server.upstream_address
                self.upstream = http.client.HTTPConnection(host, port, timeout=120)
                self.upstream.connect()
                assert self.upstream.sock is not None
                self.upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                response = self.upstream.getresponse()
                payload = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.upstream.close()
                self.upstream = None
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.upstream.close()
                self.upstream = None
            return response.status, response.reason, response.getheaders(), payload
        raise AssertionError("unreachable")

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self.upstream is not None:
                self.upstream.close()

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = MAX_CONNECTIONS

    def __init__(self, upstream_address: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream_address = upstream_address
        self.delay = 0.0
        self.tally = _Tally()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._buckets: dict[str, TokenBucket] = {}
        self._limit: tuple[float, float] | None = None  # (rate, burst) per operation, None: no throttling
        self._buckets_lock = threading.Lock()

    def throttle(self, limit: tuple[float, float] | None) -> None:
        with self._buckets_lock:
            self._limit = limit
            self._buckets.clear()

    def admit(self, operation: str) -> bool:
        """Whether the request goes upstream: always without a limit, else if its bucket has a token."""
        with self._buckets_lock:
            if self._limit is None:
                return True
            bucket = self._buckets.get(operation)
            if bucket is None:
                bucket = self._buckets[operation] = TokenBucket(*self._limit)
        return bucket.take()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(timeout=IDLE_TIMEOUT):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class CountingProxy:
    """``with CountingProxy("http://127.0.0.1:5000") as proxy:`` point clients at ``proxy.url``."""

    def __init__(self, upstream_url: str, *, max_lifetime: float = DEFAULT_LIFETIME) -> None:
        parts = urllib.parse.urlsplit(upstream_url)
        if parts.scheme != "http" or parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be http://HOST:PORT, not {upstream_url!r}")
        if not ipaddress.ip_address(parts.hostname).is_loopback:
            raise ValueError(f"the proxy forwards to loopback only, not to {parts.hostname}")
        self._server = _ProxyServer((parts.hostname, parts.port))
        self._thread = threading.Thread(target=self._server.serve_forever, name="counting-proxy", daemon=True)
        self._deadline = threading.Timer(max_lifetime, self.stop)
        self._deadline.daemon = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def start(self) -> CountingProxy:
        self._thread.start()
        self._deadline.start()
        return self

    def stop(self) -> None:
        self._deadline.cancel()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    @property
    def delay(self) -> float:
        """Seconds every request waits before it is forwarded: a simulated network round trip."""
        return self._server.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._server.delay = max(0.0, seconds)

    def throttle(self, rate: float | None, burst: float = 1.0) -> None:
        """From now on each operation gets its own bucket of ``rate`` requests/s and ``burst``, starting
        full (as ECR limits each API separately); ``rate=None`` lifts throttling."""
        if rate is not None:
            check_limit(rate, burst)  # here, not at the first request's bucket in a handler thread
        self._server.throttle(None if rate is None else (rate, burst))

    def counts(self) -> Counts:
        return self._server.tally.snapshot()

    def reset(self) -> None:
        self._server.tally.reset()

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
