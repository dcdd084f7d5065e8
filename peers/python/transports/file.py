"""File handoff in one private directory (schemas/json_transports.md, `file`).

Address: DIR (wake-up by inotify, IN_MOVED_TO on DIR) or DIR?wait=poll (list
DIR every POLL_INTERVAL). For each `req-ID.json` (renamed into DIR by the
harness): read it, remove it, compute, write `.rep-ID.json.tmp`, rename it to
`rep-ID.json`. Files present at start are served too. A file that is not a
valid request gets rep-ID.json = {"id": ID, "error": ...}; a req- name
without an id is removed and logged. Other names are left alone. With --echo
each req-ID.json is renamed to rep-ID.json: the request is its own reply, and
nothing is read or written.

inotify is used through ctypes (inotify_init1 / inotify_add_watch, events read
with os.read): pyinotify builds an object per event and dispatches through
several layers, which costs more than the rest of a call.
"""

import ctypes
import os
import struct
import time

import json_message as jm
from raw_frame import log
from transports import PeerError, UsageError, announce

CODECS = ("json",)
DEFAULT_ADDRESS = None

POLL_INTERVAL = 0.001  # seconds
REQUEST_PREFIX = "req-"
SUFFIX = ".json"

IN_MOVED_TO = 0x00000080
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_ONLYDIR = 0x01000000
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name
_EVENT_BUFFER = 64 * 1024


def parse_address(address: str) -> "tuple[str, str]":
    """(directory, 'inotify' or 'poll') from 'DIR' or 'DIR?wait=MODE'."""
    directory, sep, query = address.partition("?")
    mode = "inotify"
    if sep:
        key, eq, value = query.partition("=")
        if key != "wait" or not eq or value not in ("inotify", "poll"):
            raise UsageError(f"file address must be DIR or DIR?wait=poll, got {address!r}")
        mode = value
    if not directory:
        raise UsageError("file address needs a directory")
    return directory, mode


def request_id(name: str) -> "str | None":
    """The ID of a `req-ID.json` name (decimal uint64), else None."""
    digits = name[len(REQUEST_PREFIX):-len(SUFFIX)]
    if digits.isdigit() and digits.isascii() and int(digits) <= jm.UINT64_MAX:
        return digits
    return None


def is_request(name: str) -> bool:
    return name.startswith(REQUEST_PREFIX) and name.endswith(SUFFIX)


class Handoff:
    """Serves the request files of one directory."""

    def __init__(self, directory: str):
        self.dir = directory
        self.dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # One buffer for every request, read into: os.read(fd, 4 MiB + 1)
        # would allocate 4 MiB per call, even for a 40-byte file.
        self._buffer = memoryview(bytearray(jm.MAX_JSON_BYTES + 1))

    def close(self) -> None:
        self._buffer.release()
        os.close(self.dir_fd)

    def serve(self, name: str) -> None:
        """Answer request file `name` (a req-*.json name); a file that is gone
        already (served, or taken by someone else) is skipped."""
        try:
            self._serve(name)
        except Exception as e:  # a bug must cost one request, never the peer
            log(f"internal error serving {name}: {e!r}")

    def echo(self, name: str) -> None:
        """--echo: hand request file `name` back as the reply, by renaming it
        to rep-ID.json; a req- name without an id is removed, as by serve."""
        rid = request_id(name)
        if rid is None:
            log(f"removed {name}: the name carries no request id")
            self._remove(name)
            return
        try:
            os.rename(name, f"rep-{rid}.json", src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except FileNotFoundError:  # served already, or taken by someone else
            pass
        except OSError as e:
            log(f"cannot rename {name} to rep-{rid}.json: {e}")

    def _serve(self, name: str) -> None:
        try:
            # O_NONBLOCK: a FIFO under a req- name must not block the peer.
            f = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW,
                        dir_fd=self.dir_fd)
        except FileNotFoundError:
            return
        except OSError as e:
            log(f"cannot open {name}: {e}")
            self._remove(name)
            return
        try:
            # One read: a regular file is read whole, up to the bound + 1.
            size = os.readv(f, [self._buffer])
        except OSError as e:
            log(f"cannot read {name}: {e}")
            size = None
        finally:
            os.close(f)
        self._remove(name)
        rid = request_id(name)
        if rid is None:
            log(f"removed {name}: the name carries no request id")
            return
        if size is None:
            reply = jm.error_reply(int(rid), "cannot read the request file")
        else:
            reply = self._answer(name, rid, self._buffer[:size])
        self._write_reply(rid, reply)

    @staticmethod
    def _answer(name: str, rid: str, data: bytes) -> bytes:
        try:
            return jm.answer(jm.decode(data))
        except jm.MessageError as e:
            log(f"bad request in {name}: {e}")
            return jm.error_reply(int(rid), str(e))

    def _remove(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.dir_fd)
        except FileNotFoundError:
            pass
        except OSError as e:
            log(f"cannot remove {name}: {e}")

    def _write_reply(self, rid: str, reply: bytes) -> None:
        tmp = f".rep-{rid}.json.tmp"
        try:
            f = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW,
                        0o600, dir_fd=self.dir_fd)
            try:
                view = memoryview(reply)
                while view:
                    view = view[os.write(f, view):]
            finally:
                os.close(f)
            os.rename(tmp, f"rep-{rid}.json", src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except OSError as e:
            log(f"cannot write the reply to request {rid}: {e}")
            try:
                os.unlink(tmp, dir_fd=self.dir_fd)
            except OSError:
                pass

    def pending(self) -> "list[str]":
        """The request names in the directory now, oldest id first."""
        with os.scandir(self.dir_fd) as it:
            names = [e.name for e in it if is_request(e.name)]
        if len(names) > 1:
            names.sort(key=lambda n: (len(n), n))  # decimal ids: shorter is smaller
        return names


class Inotify:
    """An inotify instance watching one directory for IN_MOVED_TO."""

    def __init__(self, directory: str):
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_CLOEXEC)
        if self.fd < 0:
            raise PeerError(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        mask = IN_MOVED_TO | IN_ONLYDIR | IN_DELETE_SELF | IN_MOVE_SELF
        self.wd = libc.inotify_add_watch(self.fd, os.fsencode(directory), mask)
        if self.wd < 0:
            err = ctypes.get_errno()
            os.close(self.fd)
            raise PeerError(f"cannot watch {directory}: {os.strerror(err)}")

    def close(self) -> None:
        os.close(self.fd)

    def events(self) -> "list[tuple[int, str]]":
        """Blocks for the next batch: [(mask, name)]."""
        data = os.read(self.fd, _EVENT_BUFFER)
        out = []
        pos, end = 0, len(data)
        unpack = _EVENT.unpack_from
        while pos + 16 <= end:
            _, mask, _, length = unpack(data, pos)
            name = data[pos + 16:pos + 16 + length].rstrip(b"\0")
            out.append((mask, os.fsdecode(name)))
            pos += 16 + length
        return out


def run(address: str, codec: str, echo: bool, inflight: int = 1) -> int:
    directory, mode = parse_address(address)
    if not os.path.isdir(directory):
        raise PeerError(f"{directory} is not a directory")
    handoff = Handoff(directory)
    serve = handoff.echo if echo else handoff.serve
    try:
        if mode == "poll":
            announce(address)
            _poll(handoff, serve)
        else:
            watch = Inotify(directory)  # before the first listing: nothing is missed
            try:
                announce(address)
                _watch(handoff, serve, watch, directory)
            finally:
                watch.close()
    finally:
        handoff.close()
    return 0


def _watch(handoff: Handoff, serve, watch: Inotify, directory: str) -> None:
    for name in handoff.pending():  # there before the watch, or since
        serve(name)
    while True:
        for mask, name in watch.events():
            if mask & IN_MOVED_TO:
                if is_request(name):
                    serve(name)
            elif mask & IN_Q_OVERFLOW:
                log("inotify queue overflowed; listing the directory")
                for pending in handoff.pending():
                    serve(pending)
            elif mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED):
                raise PeerError(f"{directory} was removed or moved away")


def _poll(handoff: Handoff, serve) -> None:
    pending = handoff.pending
    sleep = time.sleep
    while True:
        try:
            names = pending()
        except FileNotFoundError:
            raise PeerError(f"{handoff.dir} was removed") from None
        for name in names:
            serve(name)
        if not names:
            sleep(POLL_INTERVAL)
