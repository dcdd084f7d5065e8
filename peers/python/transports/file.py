"""File handoff in one private directory (schemas/json_transports.md, `file`).

Address: DIR (wake-up by inotify, IN_MOVED_TO on DIR) or DIR?wait=poll (list
DIR every POLL_INTERVAL). For each `req-ID.EXT` (renamed into DIR by the
harness): read it, remove it, compute, write `.rep-ID.EXT.tmp`, rename it to
`rep-ID.EXT`. Files present at start are served too. A file that is not a
valid request gets an error reply in its codec, with the id its name gives
(JSON {"id": ID, "error": ...}); a req- name without an id is removed and
logged. Other names are left alone. With --echo each req-ID.EXT is renamed
to rep-ID.EXT: the request is its own reply, and nothing is read or written.

--codec (json_transports.md, "Other codecs on Redis and files") says what a
file holds, and EXT: `json` (the default, .json) a JSON request; `raw` (.raw)
one whole raw frame, answered as on a stream (batches, and the JSON and
protobuf kinds too) with one raw frame; `protobuf` (.pb) a serialized
interop.v1.Request, answered with a serialized Reply. Only names of the
row's codec are taken: a req-1.json is left alone by a raw peer.

inotify is used through ctypes (inotify_init1 / inotify_add_watch, events read
with os.read): pyinotify builds an object per event and dispatches through
several layers, which costs more than the rest of a call.
"""

import ctypes
import os
import struct
import time

import json_message as jm
import raw_frame
from raw_frame import HEADER_SIZE, MAX_BATCH_PAYLOAD, log
from transports import MESSAGE_CODECS, PeerError, UsageError, announce, prepare_codec

CODECS = MESSAGE_CODECS
DEFAULT_ADDRESS = None

POLL_INTERVAL = 0.001  # seconds
REQUEST_PREFIX = "req-"
SUFFIX = ".json"  # the default codec's
SUFFIXES = {"json": ".json", "raw": ".raw", "protobuf": ".pb"}
# The most a request file of each codec may hold: a JSON body, a raw frame
# (a batch's, the longest), a protobuf message.
MAX_BYTES = {"json": jm.MAX_JSON_BYTES, "raw": HEADER_SIZE + MAX_BATCH_PAYLOAD,
             "protobuf": MAX_BATCH_PAYLOAD}

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


def request_id(name: str, suffix: str = SUFFIX) -> "str | None":
    """The ID of a `req-ID.EXT` name (decimal uint64), else None."""
    digits = name[len(REQUEST_PREFIX):-len(suffix)]
    if digits.isdigit() and digits.isascii() and int(digits) <= jm.UINT64_MAX:
        return digits
    return None


class Handoff:
    """Serves the request files of one directory, in one codec."""

    def __init__(self, directory: str, codec: str = "json"):
        self.dir = directory
        self.codec = codec
        self.suffix = SUFFIXES[codec]
        self._answer = {"json": self._answer_json, "raw": self._answer_raw,
                        "protobuf": self._answer_protobuf}[codec]
        self.dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        # One buffer for every request, read into: os.read(fd, 4 MiB + 1)
        # would allocate 4 MiB per call, even for a 40-byte file. One byte
        # past the codec's bound tells a file that is too long.
        self._buffer = memoryview(bytearray(MAX_BYTES[codec] + 1))

    def is_request(self, name: str) -> bool:
        return name.startswith(REQUEST_PREFIX) and name.endswith(self.suffix)

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
        to rep-ID.EXT; a req- name without an id is removed, as by serve."""
        rid = request_id(name, self.suffix)
        if rid is None:
            log(f"removed {name}: the name carries no request id")
            self._remove(name)
            return
        reply = f"rep-{rid}{self.suffix}"
        try:
            os.rename(name, reply, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except FileNotFoundError:  # served already, or taken by someone else
            pass
        except OSError as e:
            log(f"cannot rename {name} to {reply}: {e}")

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
        rid = request_id(name, self.suffix)
        if rid is None:
            log(f"removed {name}: the name carries no request id")
            return
        if size is None:
            reply = self._refusal(int(rid), "cannot read the request file")
        else:
            reply = self._answer(name, rid, self._buffer[:size])
        self._write_reply(rid, reply)

    def _refusal(self, id: int, message: str) -> bytes:
        """The codec's error reply with this id."""
        if self.codec == "json":
            return jm.error_reply(id, message)
        if self.codec == "raw":
            return raw_frame.encode_error(id, message)
        import protobuf_message
        return protobuf_message.refusal(id, message)[0]

    @staticmethod
    def _answer_json(name: str, rid: str, data) -> bytes:
        try:
            return jm.answer(jm.decode(data))
        except jm.MessageError as e:
            log(f"bad request in {name}: {e}")
            return jm.error_reply(int(rid), str(e))

    @staticmethod
    def _answer_raw(name: str, rid: str, data) -> bytes:
        # A frame with no header to trust gets its error with the name's id;
        # anything else is answered (or refused) with the header's, as on a
        # stream. answer_message logs what it refuses.
        return raw_frame.answer_message(data, int(rid))

    @staticmethod
    def _answer_protobuf(name: str, rid: str, data) -> bytes:
        import protobuf_message
        reply, problem = protobuf_message.answer_message(data, int(rid))
        if problem is not None:
            log(f"bad request in {name}: {problem}")
        return reply

    def _remove(self, name: str) -> None:
        try:
            os.unlink(name, dir_fd=self.dir_fd)
        except FileNotFoundError:
            pass
        except OSError as e:
            log(f"cannot remove {name}: {e}")

    def _write_reply(self, rid: str, reply: bytes) -> None:
        tmp = f".rep-{rid}{self.suffix}.tmp"
        try:
            f = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW,
                        0o600, dir_fd=self.dir_fd)
            try:
                view = memoryview(reply)
                while view:
                    view = view[os.write(f, view):]
            finally:
                os.close(f)
            os.rename(tmp, f"rep-{rid}{self.suffix}", src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        except OSError as e:
            log(f"cannot write the reply to request {rid}: {e}")
            try:
                os.unlink(tmp, dir_fd=self.dir_fd)
            except OSError:
                pass

    def pending(self) -> "list[str]":
        """The request names in the directory now, oldest id first."""
        with os.scandir(self.dir_fd) as it:
            names = [e.name for e in it if self.is_request(e.name)]
        if len(names) > 1:
            names.sort(key=lambda n: (len(n), n))  # decimal ids, one suffix: shorter is smaller
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
    prepare_codec(codec, echo)
    handoff = Handoff(directory, codec)
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
                if handoff.is_request(name):
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
