"""The template-driven local cloud over real sockets: HTTP API, WebSocket API + @connections,
schedules, SQS event sources with DLQs, `kstock invoke`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import boto3
import pytest
import redis
import requests
from botocore.config import Config
from support.cloud import Limits, start_cloud
from support.waiting import wait_for
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

TEMPLATE = Path(__file__).resolve().parents[1] / "support" / "local_cloud" / "template.yaml"


@pytest.fixture(scope="module")
def cloud(services, moto_endpoint):
    r = redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)
    r.delete(
        "probe:events",
        "probe:ticks",
        "probe:receives",
        "probe:processed",
        "probe:partial-receives",
        "probe:partial-processed",
        "probe:batch-sizes",
    )
    limits = Limits(idle_timeout=600, max_duration=7200)
    with start_cloud(
        TEMPLATE, moto_endpoint, dict(services), clock_speed=60.0, ws_limits=limits, market_always_open=True
    ) as running:
        yield running


@pytest.fixture
def r(services):
    return redis.Redis.from_url(services["REDIS_URL"], decode_responses=True)


def events(r, kind):
    return [e["event"] for e in map(json.loads, r.lrange("probe:events", 0, -1)) if e["kind"] == kind]


def management(cloud):
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=cloud.connections_url,
        region_name="ap-northeast-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"max_attempts": 1}),
    )


# -- HTTP API -------------------------------------------------------------------------------------


def test_http_api_routes_by_the_template(cloud):
    item = requests.get(f"{cloud.http_url}/items/42", timeout=10).json()
    assert item == {"resource": "/items/{itemId}", "pathParameters": {"itemId": "42"}, "function": "ProbeApiFunction"}
    other = requests.post(f"{cloud.http_url}/any/thing", data=b"\x00\xff", timeout=10).json()
    assert other["resource"] == "/{proxy+}" and other["pathParameters"] == {"proxy": "any/thing"}


def test_function_environment_comes_from_the_template(cloud, r):
    requests.get(f"{cloud.http_url}/items/1", timeout=10)
    assert all(e["env"] == "probe" for e in map(json.loads, r.lrange("probe:events", 0, -1)))


# -- WebSocket API ------------------------------------------------------------------------------


def test_connect_sees_query_string_and_post_to_connection_reaches_the_client(cloud, r):
    with connect(f"{cloud.ws_url}?token=let-me-in&lang=ko", open_timeout=10) as ws:
        ws.send(json.dumps({"action": "echo", "text": "안녕"}))
        reply = json.loads(ws.recv(timeout=10))
        assert reply == {"route": "echo", "body": {"action": "echo", "text": "안녕"}}
        connect_event = events(r, "connect")[-1]
        context = connect_event["requestContext"]
        assert connect_event["queryStringParameters"] == {"token": "let-me-in", "lang": "ko"}
        assert context["eventType"] == "CONNECT" and context["routeKey"] == "$connect"
        assert context["stage"] == "test" and context["identity"]["sourceIp"] == "127.0.0.1"
        assert context["domainName"].startswith("127.0.0.1:") and context["connectedAt"] > 0
        connection_id = context["connectionId"]
        info = management(cloud).get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
    wait_for(
        lambda: any(e["requestContext"]["connectionId"] == connection_id for e in events(r, "disconnect")),
        what="$disconnect",
    )
    client = management(cloud)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=connection_id, Data=b"late")
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="NeverExisted=", Data=b"x")


def test_unknown_actions_and_non_json_go_to_default(cloud):
    with connect(f"{cloud.ws_url}?token=let-me-in", open_timeout=10) as ws:
        ws.send(json.dumps({"action": "nope"}))
        assert json.loads(ws.recv(timeout=10))["route"] == "$default"
        ws.send("not json")
        assert json.loads(ws.recv(timeout=10)) == {"route": "$default", "raw": "not json"}


def test_a_failing_route_answers_internal_server_error_and_keeps_the_socket(cloud):
    with connect(f"{cloud.ws_url}?token=let-me-in", open_timeout=10) as ws:
        ws.send("crash")
        assert json.loads(ws.recv(timeout=10))["message"] == "Internal server error"
        ws.send(json.dumps({"action": "echo"}))
        assert json.loads(ws.recv(timeout=10))["route"] == "echo"


def test_refused_connect_refuses_the_socket(cloud):
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{cloud.ws_url}?token=wrong", open_timeout=10)
    assert refused.value.response.status_code == 401


def test_oversize_frame_is_rejected(cloud):
    with connect(f"{cloud.ws_url}?token=let-me-in", open_timeout=10, max_size=None) as ws:
        ws.send("x" * (33 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == 1009


def _receive(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise AssertionError("the gateway closed the connection mid-response")
    return chunk


def _read_response(sock: socket.socket, buffered: bytearray) -> tuple[int, dict[str, str], bytes]:
    while b"\r\n\r\n" not in buffered:
        buffered += _receive(sock)
    head, _, rest = bytes(buffered).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        rest += _receive(sock)
    buffered[:] = rest[length:]
    return int(lines[0].split()[1]), headers, rest[:length]


def test_connections_calls_on_one_keep_alive_socket_mix_the_fast_path_and_aiohttp(cloud):
    """POSTs are answered by the fast path, in order, pipelined or not; a GET on the same socket
    goes to aiohttp, which then keeps the socket; unknown ids are 410 GoneException either way."""
    stage = cloud.websocket.stage
    with connect(f"{cloud.ws_url}?token=let-me-in", open_timeout=10) as ws:
        ws.send(json.dumps({"action": "echo"}))
        ws.recv(timeout=10)
        connection_id = next(iter(cloud.websocket.connections))
        quoted = urllib.parse.quote(connection_id, safe="")
        host, port = cloud.connections_url.split("//")[1].split("/")[0].split(":")

        def post(data: bytes, cid: str = quoted) -> bytes:
            return (
                f"POST /{stage}/@connections/{cid} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode() + data

        with socket.create_connection((host, int(port)), timeout=10) as sock:
            buffered = bytearray()
            sock.sendall(post("첫째".encode()) + post(b"second") + post(b"x", "NeverExisted%3D"))  # pipelined
            answers = [_read_response(sock, buffered) for _ in range(3)]
            assert [a[0] for a in answers] == [200, 200, 410]
            assert answers[2][1]["x-amzn-errortype"] == "GoneException"
            assert json.loads(answers[2][2])["__type"] == "GoneException"
            assert [ws.recv(timeout=10) for _ in range(2)] == ["첫째", "second"]
            sock.sendall(f"GET /{stage}/@connections/{quoted} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status, _, body = _read_response(sock, buffered)
            assert status == 200 and json.loads(body)["identity"]["sourceIp"] == "127.0.0.1"
            sock.sendall(post(b"after the hand-over"))
            assert _read_response(sock, buffered)[0] == 200
            assert ws.recv(timeout=10) == "after the hand-over"


def test_delete_closes_the_client(cloud):
    with connect(f"{cloud.ws_url}?token=let-me-in", open_timeout=10) as ws:
        ws.send(json.dumps({"action": "echo"}))
        ws.recv(timeout=10)
        connection_id = next(iter(cloud.websocket.connections))
        management(cloud).delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)


def test_idle_connections_are_closed(services, moto_endpoint):
    limits = Limits(idle_timeout=0.5, max_duration=60)
    with start_cloud(TEMPLATE, moto_endpoint, dict(services), ws_limits=limits) as quick:
        with connect(f"{quick.ws_url}?token=let-me-in", open_timeout=10) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1001


# -- schedules -------------------------------------------------------------------------------------


def test_rate_schedule_fires_under_the_fast_clock(cloud, r):
    # rate(1 minute) at 60x: about once a second
    def every_minute():
        return [e for e in events(r, "tick") if e["resources"][0].endswith("TickFunction-EveryMinute")]

    event = wait_for(lambda: every_minute()[1:], 20, "two scheduled ticks")[-1]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    running = sorted((s.function.spec.logical_id, s.source.name) for s in cloud.schedules)
    assert running == [
        ("MarketHoursFunction", "AlwaysOpenMarket"),
        ("MarketHoursFunction", "KrxHours"),
        ("TickFunction", "EveryMinute"),
    ]  # the DISABLED one does not run


def test_a_market_hours_job_runs_around_the_clock_with_the_always_open_market(cloud, r):
    fired = wait_for(
        lambda: [e for e in events(r, "tick") if e["resources"][0].endswith("MarketHoursFunction-AlwaysOpenMarket")],
        20,
        "the always-open schedule of a market-hours job",
    )
    assert fired[0]["detail-type"] == "Scheduled Event"


# -- SQS ------------------------------------------------------------------------------------------


def sqs(cloud):
    return boto3.client(
        "sqs",
        endpoint_url=cloud.endpoint,
        region_name="ap-northeast-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


def test_worker_processes_a_batch_and_poison_reaches_the_dlq(cloud, r):
    client = sqs(cloud)
    queue = cloud.provisioned.queue_urls["JobsQueue"]
    dlq = cloud.provisioned.queue_urls["JobsDeadLetterQueue"]
    for body in ("a", "b", "c"):
        client.send_message(QueueUrl=queue, MessageBody=body)
    wait_for(lambda: sorted(r.lrange("probe:processed", 0, -1)) == ["a", "b", "c"], 20, "batch processed")
    client.send_message(QueueUrl=queue, MessageBody="poison")

    def in_dlq():
        got = client.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages", [])
        return got[0] if got else None

    dead = wait_for(in_dlq, 30, "poison message in the DLQ")
    assert dead["Body"] == "poison"
    assert int(r.hget("probe:receives", "poison")) == 2  # maxReceiveCount receives, then the DLQ
    assert sorted(r.lrange("probe:processed", 0, -1)) == ["a", "b", "c"]  # nothing processed twice


def test_report_batch_item_failures_retries_only_the_failed_item(cloud, r):
    client = sqs(cloud)
    queue = cloud.provisioned.queue_urls["PartialQueue"]
    dlq = cloud.provisioned.queue_urls["PartialDeadLetterQueue"]
    client.send_message_batch(
        QueueUrl=queue,
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(["ok-1", "fail-1", "ok-2"])],
    )

    def dead():
        got = client.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
        return got[0]["Body"] if got else None

    assert wait_for(dead, 40, "failed item in the DLQ") == "fail-1"
    receives = r.hgetall("probe:partial-receives")
    assert receives == {"ok-1": "1", "ok-2": "1", "fail-1": "2"}
    assert sorted(r.lrange("probe:partial-processed", 0, -1)) == ["ok-1", "ok-2"]
    assert max(map(int, r.lrange("probe:batch-sizes", 0, -1))) >= 2  # the batching window gathered a batch


# -- kstock invoke ----------------------------------------------------------------------------------


def test_kstock_invoke_runs_a_function_with_an_event_file(services, tmp_path, r):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"Records": [{"body": "from-invoke"}]}))
    kstock = Path(sys.executable).with_name("kstock")
    result = subprocess.run(
        [str(kstock), "invoke", "WorkerFunction", "--event", str(event), "--template", str(TEMPLATE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "from-invoke" in r.lrange("probe:processed", 0, -1)
    piped = subprocess.run(
        [str(kstock), "invoke", "ProbeApiFunction", "--event", "-", "--template", str(TEMPLATE)],
        input=json.dumps({"resource": "/x", "pathParameters": None}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["statusCode"] == 200
