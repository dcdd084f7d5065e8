"""Python peer of interop-spectrum (contract: peers/README.md).

  /usr/bin/python3 peers/python/peer.py --transport=T --address=ADDR [--codec=C] [--echo] [--inflight=K]

Prints `READY <address>` on stdout once listening, serves until SIGTERM/SIGINT
(exit 0) or, for pipe, EOF on stdin (exit 0). Exit 2: bad options (unknown
transport, unsupported codec, malformed address); 1: setup failed (cannot
bind); 3: pipe closed because of bad input.
"""

import argparse
import importlib
import os
import signal
import sys
import threading
import time

# One entry per transport; each is one module under transports/ (see
# transports/__init__.py for what a module provides). Imported on use only.
TRANSPORTS = {
    "unix": "transports.unix",
    "tcp": "transports.tcp",
    "pipe": "transports.pipe",
    "rest": "transports.rest",
    # One gRPC server for both: the harness calls unary Add/Score (Batch with
    # --batch) for `grpc` and the bidi Stream RPC for `grpc-stream`.
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


_stopping = False


def _stop(signum, frame):
    global _stopping
    if _stopping:  # a nudge that landed before SIG_IGN took hold
        return
    _stopping = True
    # Ignore further signals so cleanup (removing the socket file) runs once.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(0)


# Python runs _stop in the main thread only, at its next bytecode. A signal
# that arrives just before the main thread enters a blocking call (accept, a
# read on stdin or inotify) is recorded but does not interrupt that call, so
# the peer would sleep on until a connection or a byte came: a lost SIGTERM
# (seen about 1 in 300 times in accept). The C-level handler also writes the
# signal's number to a wake-up pipe, whatever thread it lands in; this thread
# reads it and re-sends the signal to the main thread every 100 ms until the
# process has gone, so the blocking call returns EINTR and _stop runs. The hot
# paths pay nothing: no select before each read, no timeouts.
_NUDGE_SECONDS = 0.1


def _nudge_main(wakeup_r: int) -> None:
    number = os.read(wakeup_r, 1)[0]
    main = threading.main_thread().ident
    while True:
        signal.pthread_kill(main, number)
        time.sleep(_NUDGE_SECONDS)


def install_stop_handlers() -> None:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    wakeup_r, wakeup_w = os.pipe()
    os.set_blocking(wakeup_w, False)
    signal.set_wakeup_fd(wakeup_w, warn_on_full_buffer=False)
    threading.Thread(target=_nudge_main, args=(wakeup_r,), name="stop-nudge",
                     daemon=True).start()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="peer.py", description="interop-spectrum Python peer")
    parser.add_argument("--transport", required=True, choices=list(TRANSPORTS),
                        help="one of: " + ", ".join(TRANSPORTS))
    parser.add_argument("--address", help="where to listen (unix: socket path; "
                        "tcp, rest, grpc: 127.0.0.1:PORT, 0 = any; pipe: -; "
                        "redis: REDIS_URL#PREFIX; shm: /shm-name; file: DIR[?wait=poll])")
    parser.add_argument("--codec", help="wire codec: raw, json or protobuf (default: the "
                        "transport's own; unix, tcp, pipe, shm, redis, redis-stream and file "
                        "take all three, rest json only, grpc protobuf only)")
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
    install_stop_handlers()
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
