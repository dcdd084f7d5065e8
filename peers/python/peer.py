"""Python peer of interop-spectrum (contract: peers/README.md).

  /usr/bin/python3 peers/python/peer.py --transport=T --address=ADDR [--codec=C] [--echo] [--inflight=K]

Prints `READY <address>` on stdout once listening, serves until SIGTERM/SIGINT
(exit 0) or, for pipe, EOF on stdin (exit 0). Exit 2: bad options (unknown
transport, unsupported codec, malformed address); 1: setup failed (cannot
bind); 3: pipe closed because of bad input.
"""

import argparse
import importlib
import signal
import sys

# One entry per transport; each is one module under transports/ (see
# transports/__init__.py for what a module provides). Imported on use only.
TRANSPORTS = {
    "unix": "transports.unix",
    "tcp": "transports.tcp",
    "pipe": "transports.pipe",
    "rest": "transports.rest",
    # One gRPC server for both: the harness calls unary Add/Score for `grpc`
    # and the bidi Stream RPC for `grpc-stream`.
    "grpc": "transports.grpc_server",
    "grpc-stream": "transports.grpc_server",
    "redis": "transports.redis_list",
    "redis-stream": "transports.redis_stream",
    # The harness names a row by its wait mode (bench's shm-spin, shm-futex,
    # file-inotify, file-poll); the mode itself comes from the segment's
    # header (shm) or the address (file), as in the C++ peer.
    "shm": "transports.shm",
    "shm-spin": "transports.shm",
    "shm-futex": "transports.shm",
    "file": "transports.file",
    "file-inotify": "transports.file",
    "file-poll": "transports.file",
}


def _stop(signum, frame):
    # Ignore further signals so cleanup (removing the socket file) runs once.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(0)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="peer.py", description="interop-spectrum Python peer")
    parser.add_argument("--transport", required=True, choices=list(TRANSPORTS),
                        help="one of: " + ", ".join(TRANSPORTS))
    parser.add_argument("--address", help="where to listen (unix: socket path; "
                        "tcp, rest, grpc: 127.0.0.1:PORT, 0 = any; pipe: -; "
                        "redis: REDIS_URL#PREFIX; shm: /shm-name; file: DIR[?wait=poll])")
    parser.add_argument("--codec", help="wire codec (default: the transport's own)")
    parser.add_argument("--echo", action="store_true",
                        help="floor: send every request's bytes back unchanged, "
                        "decoding nothing (peers/README.md, Echo mode)")
    parser.add_argument("--inflight", type=int, default=1, metavar="K",
                        help="the most calls the harness keeps in flight (bench --inflight); "
                        "the Redis peers pop up to K requests at once")
    args = parser.parse_args(argv)
    if args.inflight < 1:
        parser.error(f"--inflight={args.inflight}: at least 1")
    module = importlib.import_module(TRANSPORTS[args.transport])
    if args.codec is None:
        args.codec = module.CODECS[0]
    elif args.codec not in module.CODECS:
        parser.error(f"transport {args.transport} does not support codec {args.codec!r} "
                     f"(valid: {', '.join(module.CODECS)})")
    if args.address is None:
        if module.DEFAULT_ADDRESS is None:
            parser.error(f"--address is required for transport {args.transport}")
        args.address = module.DEFAULT_ADDRESS
    return args, module


def main(argv=None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    args, module = parse_args(argv)
    from transports import PeerError, UsageError
    try:
        return module.run(args.address, args.codec, args.echo, args.inflight)
    except UsageError as e:
        print(f"peer.py: error: {e}", file=sys.stderr, flush=True)
        return 2
    except PeerError as e:
        print(f"peer.py: {e}", file=sys.stderr, flush=True)
        return 1
    except OSError as e:
        print(f"peer.py: {args.transport}: {e}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
