"""TCP server on loopback, TCP_NODELAY: frames (raw, or JSON and protobuf in the
frame, by kind), one thread per connection."""

import ipaddress
import socket

from transports import FRAME_CODECS, PeerError, UsageError, accept_loop, announce, prepare_codec

CODECS = FRAME_CODECS  # every codec rides in the frame; the kind says which
DEFAULT_ADDRESS = None


def parse_address(address: str) -> "tuple[str, int]":
    """'127.0.0.1:PORT' (any 127.0.0.0/8 host or 'localhost'); port 0 = any."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise UsageError(f"tcp address must be 127.0.0.1:PORT, got {address!r}")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        loopback = ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(f"tcp peer binds loopback only (127.0.0.1), got {host!r}")
    return host, int(port_text)


def _nodelay(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def run(address: str, codec: str, echo: bool, inflight: int = 1) -> int:
    host, port = parse_address(address)
    prepare_codec(codec, echo)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError as e:
            raise PeerError(f"cannot bind {host}:{port}: {e}") from None
        listener.listen(128)
        announce(f"{host}:{listener.getsockname()[1]}")
        accept_loop(listener, echo, setup=_nodelay)
    finally:
        listener.close()
    return 0
