"""One local Lambda execution environment, as its own process:
``python -m kstock_local.cloud.lambdas.worker HANDLER CODE_DIR FUNCTION_NAME TIMEOUT FD``.

It imports the handler once (the cold start), then serves one invocation at a time over the
socket it inherited as ``FD``, until the socket closes. Each message, both ways, is a frame: a
4-byte big-endian length, then a pickle. In comes the event; out goes ``(True, result)`` or
``(False, error payload)`` as Lambda reports a handler that raised.

Why a socket and not ``concurrent.futures.ProcessPoolExecutor``: the executor hands every call
through a feeder thread, a management thread and two queues in the gateway, each waking the
other under the GIL; a socket the gateway's event loop reads directly is one write and one read
per call, and it also lets a timed-out environment be killed and replaced, as Lambda does.
"""

from __future__ import annotations

import pickle
import signal
import socket
import struct
import sys
from pathlib import Path

from kstock_local.cloud.lambdas.runtime import invoke_reporting_errors, load_handler

FRAME_HEADER = struct.Struct(">I")


def frame(message: object) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return FRAME_HEADER.pack(len(body)) + body


def _read_exactly(channel: socket.socket, size: int) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    received = 0
    while received < size:
        count = channel.recv_into(view[received:])
        if count == 0:
            return None
        received += count
    return bytes(buffer)


def serve(channel: socket.socket, handler: str, code_dir: Path, function_name: str, timeout: float) -> None:
    load_handler(handler, code_dir)
    while True:
        header = _read_exactly(channel, FRAME_HEADER.size)
        if header is None:  # the gateway closed the environment
            return
        body = _read_exactly(channel, FRAME_HEADER.unpack(header)[0])
        if body is None:
            return
        answer = invoke_reporting_errors(handler, pickle.loads(body), function_name, code_dir, timeout)
        try:
            channel.sendall(frame(answer))
        except (pickle.PicklingError, TypeError) as exc:  # a result Lambda could not serialise either
            channel.sendall(
                frame((False, {"errorType": "Runtime.MarshalError", "errorMessage": str(exc), "stackTrace": []}))
            )


def main(argv: list[str]) -> int:
    handler, code_dir, function_name, timeout, fd = argv
    # Ctrl-C reaches the whole process group; only the gateway decides when environments stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with socket.socket(fileno=int(fd)) as channel:
        try:
            serve(channel, handler, Path(code_dir), function_name, float(timeout))
        except (ConnectionError, BrokenPipeError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
