"""Unix domain stream socket server: frames (raw, or JSON and protobuf in the
frame, by kind), one thread per connection."""

import errno
import os
import signal
import socket
import stat

from transports import FRAME_CODECS, PeerError, UsageError, accept_loop, announce, prepare_codec

CODECS = FRAME_CODECS  # every codec rides in the frame; the kind says which
DEFAULT_ADDRESS = None

_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _remove_stale(path: str) -> None:
    """Unlink a socket file nobody listens on; refuse anything else."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise PeerError(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        os.unlink(path)
        return
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise PeerError(f"cannot probe {path}: {e}") from None
        return
    finally:
        probe.close()
    raise PeerError(f"{path} is in use by another server")


def run(address: str, codec: str, echo: bool, inflight: int = 1) -> int:
    path = address
    if not path or path.startswith("\0"):
        raise UsageError("unix address must be a socket file path")
    prepare_codec(codec, echo)
    _remove_stale(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bound = None  # (st_dev, st_ino) of the socket file we created
    try:
        # No signal between bind() and remembering the file: it is always removed.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            old_umask = os.umask(0o177)  # the socket file is created 0600
            try:
                listener.bind(path)
            except OSError as e:
                raise PeerError(f"cannot bind {path}: {e}") from None
            finally:
                os.umask(old_umask)
            st = os.lstat(path)
            bound = (st.st_dev, st.st_ino)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        listener.listen(128)
        announce(path)
        accept_loop(listener, echo)
    finally:
        listener.close()
        if bound is not None:
            try:
                st = os.lstat(path)
                if (st.st_dev, st.st_ino) == bound:  # still ours
                    os.unlink(path)
            except OSError:
                pass
    return 0
