"""What ``crowdquake serve`` (gunicorn) answers before the application sees a request: oversize
request lines and headers are problem+json 414/431, unparsable HTTP is problem+json 400, and no
response names the server software."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crowdquake.cli.common import free_port, stop, wait_ready
from crowdquake.storage import migrate
from tests.functional.live import start

pytestmark = [pytest.mark.slow]

LINE_LIMIT = 1024
HEADERS_LIMIT = 20
FIELD_LIMIT = 512


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    instance = tmp_path_factory.mktemp("edge")
    url = f"sqlite:///{instance / 'edge.sqlite3'}"
    migrate.upgrade(url)
    port = free_port()
    env = {
        "CROWDQUAKE_DATABASE_URL": url,
        "CROWDQUAKE_INSTANCE_DIR": str(instance),
        "CROWDQUAKE_BROKER_URL": f"sqla+sqlite:///{instance / 'broker.sqlite3'}",
        "CROWDQUAKE_WEB_WORKERS": "1",
        "CROWDQUAKE_STREAM_PROCESSES": "0",  # no SSE server: not under test here
        "CROWDQUAKE_MAX_REQUEST_LINE_BYTES": str(LINE_LIMIT),
        "CROWDQUAKE_MAX_REQUEST_HEADERS": str(HEADERS_LIMIT),
        "CROWDQUAKE_MAX_REQUEST_HEADER_BYTES": str(FIELD_LIMIT),
    }
    process = start(["serve", "--bind", f"127.0.0.1:{port}"], env, instance / "web.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}", timeout_s=60, path="/healthz")
        yield "127.0.0.1", port
    finally:
        stop(process)


def raw_exchange(address: tuple[str, int], request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes, read the whole answer (gunicorn closes after an error); parse it by hand,
    so nothing between the test and the server normalises the response."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def assert_problem(
    answer: tuple[int, dict[str, str], bytes], status: int, detail_part: str
) -> None:
    code, headers, body = answer
    assert code == status, body
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["content-length"]) == len(body)
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "strict-transport-security" in headers and "referrer-policy" in headers
    assert "server" not in headers
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"]
    assert detail_part in problem["detail"]


def test_long_request_line_is_problem_414(server: tuple[str, int]) -> None:
    path = "/api/v1/events?since=" + "9" * LINE_LIMIT
    answer = raw_exchange(server, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert_problem(answer, 414, f"longer than {LINE_LIMIT} bytes")


def test_too_many_header_fields_is_problem_431(server: tuple[str, int]) -> None:
    fields = "".join(f"X-Filler-{i}: {i}\r\n" for i in range(HEADERS_LIMIT + 1))
    answer = raw_exchange(server, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{fields}\r\n".encode())
    assert_problem(answer, 431, f"more than {HEADERS_LIMIT} header fields")


def test_oversize_header_field_is_problem_431(server: tuple[str, int]) -> None:
    big = "a" * (FIELD_LIMIT + 1)
    request = f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n".encode()
    assert_problem(raw_exchange(server, request), 431, f"longer than {FIELD_LIMIT} bytes")


def test_unparsable_request_is_problem_400_without_echo(server: tuple[str, int]) -> None:
    answer = raw_exchange(server, b"<script>alert(1)</script>\r\n\r\n")
    assert_problem(answer, 400, "malformed HTTP request")
    assert b"script" not in answer[2]


def test_normal_responses_carry_no_server_header(server: tuple[str, int]) -> None:
    host, port = server
    for path, status in (("/healthz", 200), ("/api/v1/nothing", 404)):
        response = httpx.get(f"http://{host}:{port}{path}")
        assert response.status_code == status
        assert "server" not in response.headers
        assert response.headers["x-content-type-options"] == "nosniff"


def test_within_the_limits_requests_reach_the_app(server: tuple[str, int]) -> None:
    fields = "".join(f"X-Filler-{i}: {i}\r\n" for i in range(HEADERS_LIMIT - 2))
    code, headers, _ = raw_exchange(
        server, f"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{fields}\r\n".encode()
    )
    assert code == 200 and "server" not in headers


def test_install_is_idempotent(tmp_path: Path) -> None:
    import gunicorn.http.wsgi

    from crowdquake.cli import gunicorn_edge
    from crowdquake.config import Settings

    settings = Settings(instance_dir=str(tmp_path))
    gunicorn_edge.install(settings)
    patched = gunicorn.http.wsgi.Response.default_headers
    gunicorn_edge.install(settings)
    assert gunicorn.http.wsgi.Response.default_headers is patched
