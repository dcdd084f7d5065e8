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

  unix, tcp, pipe   raw frames on a stream (raw_frame.serve_stream)
  shm               raw frames in shared-memory slots (raw_frame.answer_frame)
  rest, redis_list, redis_stream, file   JSON messages (json_message)
  grpc_server       protobuf, service interop.v1.Interop (grpc and grpc-stream)
"""

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
