"""Frames on stdin/stdout (unbuffered fds 0 and 1), of every codec (the kind
says which); exits at EOF on stdin."""

import io
import os

import raw_frame
from transports import FRAME_CODECS, UsageError, announce, prepare_codec, stream_loop

CODECS = FRAME_CODECS  # every codec rides in the frame; the kind says which
DEFAULT_ADDRESS = "-"


def _write_all(data, _write=os.write) -> None:
    n = _write(1, data)
    if n != len(data):
        rest = memoryview(data).cast("B")[n:]
        while rest:
            rest = rest[_write(1, rest):]


def run(address: str, codec: str, echo: bool, inflight: int = 1) -> int:
    if address != "-":
        raise UsageError(f"pipe address must be '-', got {address!r}")
    prepare_codec(codec, echo)
    stdin = io.FileIO(0, "rb", closefd=False)
    announce("-")
    try:
        status = stream_loop(echo)(stdin.readinto, _write_all)
    except BrokenPipeError:
        raw_frame.log("stdout closed by the reader; exiting")
        return 1
    # STREAM_EOF -> 0; closed for bad input (bad magic, too long) -> 3.
    return status
