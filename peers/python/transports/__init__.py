"""Transports: one module each, listed in peer.py's TRANSPORTS table.

Every transport module defines
  CODECS           the codecs it serves, the first being the default,
  DEFAULT_ADDRESS  the address used when --address is not given (None: required),
  run(address, codec, echo) -> int   serve until told to stop; the exit status.
It raises UsageError for a bad --address (exit 2) and PeerError for any
other setup problem (exit 1), with a one-line message.

With echo (--echo, peers/README.md "Echo mode") run() sends every request's
bytes back unchanged: nothing is decoded and the workload never runs.

This module holds what the transports share: the READY handshake and the
accept loop that serves each connection of a socket transport on its own
thread.

  unix, tcp, pipe   frames on a stream (raw_frame.serve_stream)
  shm               frames in shared-memory slots (raw_frame.answer_frame)
  rest              JSON messages (json_message)
  redis_list, redis_stream, file   one message per value or file, in the
                    codec --codec names: JSON (json_message, the default),
                    a raw frame (raw_frame.answer_message) or protobuf
                    (protobuf_message)
  grpc_server       protobuf, service interop.v1.Interop (grpc and grpc-stream)

On a stream or in a slot every codec rides in the frame (raw_frame.md,
"Other codecs in the frame"): the loop answers each frame by its kind,
whatever --codec says, so those transports accept all three codecs.
"""

import importlib
import os
import socket
import sys
import threading
import time

import raw_frame


class PeerError(Exception):
    """A setup problem (cannot bind, address in use): exit 1 with this message."""


class UsageError(PeerError):
    """A malformed or refused --address: exit 2, like any other bad option."""


def announce(address: str) -> None:
    """Print the one READY line on stdout; nothing else may ever go there."""
    os.write(1, f"READY {address}\n".encode("utf-8"))
    # A stray print() from anywhere must not corrupt stdout (frames, for pipe).
    sys.stdout = sys.stderr


# The codecs of the transports that carry opaque bytes (frames, Redis
# values, files); the first is the default. rest is JSON only, grpc protobuf.
FRAME_CODECS = ("raw", "json", "protobuf")
MESSAGE_CODECS = ("json", "raw", "protobuf")


def prepare_codec(codec: str, echo: bool) -> None:
    """Load the codec's code before READY, so the first timed call does not
    pay for the import, and a missing protobuf build fails at start (exit 1)
    rather than on every call. --echo decodes nothing and loads nothing."""
    if echo:
        return
    if codec == "json":
        importlib.import_module("json_message")
    elif codec == "protobuf":
        import protobuf_message
        protobuf_message.load()


def stream_loop(echo: bool):
    return raw_frame.echo_stream if echo else raw_frame.serve_stream


# After closing a stream for bad input, how much of what the client already
# sent we read and drop so our error reply is not lost to a TCP reset.
_DRAIN_BYTES = 2 * 1024 * 1024
_DRAIN_SECONDS = 0.25


def _lingering_close(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + _DRAIN_SECONDS
        left = _DRAIN_BYTES
        while left > 0:
            wait = deadline - time.monotonic()
            if wait <= 0:
                break
            conn.settimeout(wait)
            data = conn.recv(min(left, 65536))
            if not data:
                break
            left -= len(data)
    except OSError:
        pass


def _serve_connection(conn: socket.socket, loop) -> None:
    try:
        if loop(conn.recv_into, conn.sendall) == raw_frame.STREAM_CLOSED:
            _lingering_close(conn)
    except OSError as e:
        raw_frame.log(f"connection closed: {e}")
    except Exception as e:  # a bug must cost one connection, never the peer
        raw_frame.log(f"internal error, connection closed: {e!r}")
    finally:
        conn.close()


def accept_loop(listener: socket.socket, echo: bool, setup=None) -> None:
    """Accept forever; each connection is served on its own daemon thread."""
    loop = stream_loop(echo)
    while True:
        try:
            conn, _ = listener.accept()
        except OSError as e:  # e.g. EMFILE: keep serving the others
            raw_frame.log(f"accept failed: {e}")
            time.sleep(0.05)
            continue
        try:
            if setup is not None:
                setup(conn)
            threading.Thread(target=_serve_connection, args=(conn, loop),
                             name="peer-conn", daemon=True).start()
        except Exception as e:
            raw_frame.log(f"cannot serve connection: {e!r}")
            conn.close()
