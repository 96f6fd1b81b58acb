"""The counting proxy of `make bench` counts ECR requests by operation and forwards them intact."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from bench.proxy import THROTTLED_BODY, CountingProxy, TokenBucket, attempt_of

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


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_spends_its_burst_then_refills_at_its_rate() -> None:
    clock = _Clock()
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now = 0.4  # 0.8 of a token: still empty
    assert not bucket.take()
    clock.now = 0.5
    assert bucket.take()
    clock.now = 100.0  # refills up to the burst, no further
    assert sum(bucket.take() for _ in range(10)) == 3
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate=0, burst=1)


def test_attempt_of_reads_botocores_header() -> None:
    assert attempt_of("attempt=3; max=8") == 3
    assert attempt_of(None) == 1


def test_an_empty_bucket_answers_as_ecr_throttles_and_botocore_retries_it(upstream: str) -> None:
    with CountingProxy(upstream, max_lifetime=30) as proxy:
        proxy.throttle(rate=0.001, burst=1)  # one request per operation, then nothing for the test
        host, port = proxy.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            first = _call(connection, "TagResource")
            second = _call(connection, "TagResource")
            other = _call(connection, "UntagResource")  # a bucket of its own
        finally:
            connection.close()
        ecr = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client(
            "ecr",
            endpoint_url=proxy.url,
            config=Config(retries={"mode": "standard", "max_attempts": 1}),  # one retry
        )
        with pytest.raises(ClientError) as raised:
            ecr.tag_resource(resourceArn="arn", tags=[])
        counts = proxy.counts()
        proxy.throttle(None)
        unthrottled = _call_once(proxy.url, "TagResource")

    assert first[0] == 200
    assert other[0] == 200
    assert second == (400, THROTTLED_BODY)
    assert json.loads(second[1]) == {"__type": "ThrottlingException", "message": "Rate exceeded"}
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert counts.throttled == Counter(TagResource=3)  # the raw second call, botocore's two attempts
    assert counts.retries == Counter(TagResource=1)
    assert counts.served == Counter(TagResource=1, UntagResource=1)
    assert counts.errors == 0
    assert unthrottled[0] == 200


def _call_once(url: str, operation: str) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        return _call(connection, operation)
    finally:
        connection.close()
