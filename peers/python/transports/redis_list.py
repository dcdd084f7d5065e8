"""Redis, a list as a queue (schemas/json_transports.md, `redis`).

Address `REDIS_URL#PREFIX`: REDIS_URL is unix:///path/redis.sock or
redis://127.0.0.1:6379; PREFIX starts every key the peer touches. Requests are
popped with `BRPOP PREFIX:requests 1` (1 s, so SIGTERM is seen between waits)
and each reply is pushed with `LPUSH reply_to`. The reply and the next BRPOP go
out together in one pipeline: one round trip to Redis per call instead of two.
With calls in flight (--inflight=K above 1) the pop is `BLMPOP 1 1
PREFIX:requests RIGHT COUNT K` (Redis 7), which takes as many as are queued,
up to K, and waits only when none are: under load, one round trip per batch.
With --echo the request itself is pushed, undecoded, to PREFIX:echo (its
reply_to is inside the JSON), by the same loop.

--codec (json_transports.md, "Other codecs on Redis and files") says what a
value holds: `json` (the default) a JSON request with its reply_to; `raw` one
whole raw frame (header and payload), answered as on a stream, batches and
the JSON and protobuf kinds too, with one raw frame; `protobuf` a serialized
interop.v1.Request, answered with a serialized Reply. Raw and protobuf
messages carry no reply_to: their replies go to the fixed list
PREFIX:replies. A value that cannot be answered (no id to reply with: a
frame too short or with a bad magic, bytes that are not a Request) is
logged and dropped; one whose id is known gets its codec's error reply.

Also the helpers of redis_stream: the address, the connection, the request
handlers, the echo list.
"""

import time

import json_message as jm
import raw_frame
from raw_frame import log
from transports import MESSAGE_CODECS, PeerError, UsageError, announce, prepare_codec

CODECS = MESSAGE_CODECS
DEFAULT_ADDRESS = None

BLOCK_SECONDS = 1
# Redis answers BRPOP/XREADGROUP BLOCK within BLOCK_SECONDS; anything much
# slower than that is a dead server.
SOCKET_TIMEOUT = BLOCK_SECONDS + 4.0
RETRY_SECONDS = 0.1


def parse_address(address: str) -> "tuple[str, str]":
    """(redis URL, key prefix) from 'REDIS_URL#PREFIX'."""
    url, sep, prefix = address.partition("#")
    if not sep or not prefix:
        raise UsageError(f"redis address must be REDIS_URL#PREFIX, got {address!r}")
    if not (url.startswith("unix:///") or url.startswith("redis://")):
        raise UsageError(f"redis URL must be unix:///path or redis://host:port, got {url!r}")
    return url, prefix


def connect(url: str):
    """A connected client (bytes in, bytes out); PeerError if Redis is not there."""
    import redis
    try:
        options = {"socket_timeout": SOCKET_TIMEOUT}
        if not url.startswith("unix:"):  # redis-py 4.3's unix connection lacks it
            options["socket_connect_timeout"] = SOCKET_TIMEOUT
        client = redis.Redis.from_url(url, **options)
        client.ping()
    except (redis.RedisError, ValueError) as e:
        raise PeerError(f"cannot connect to redis at {url}: {e}") from None
    return client


def echo_list(prefix: str) -> str:
    """Where --echo pushes every request back (it reads no reply_to)."""
    return prefix + ":echo"


def replies_list(prefix: str) -> str:
    """Where raw and protobuf replies go: those messages carry no reply_to."""
    return prefix + ":replies"


def make_handler(codec: str, prefix: str):
    """The request handler of `codec`: request bytes -> (key to push the reply
    to, reply bytes), or None when there is nowhere to reply (logged)."""
    if codec == "json":
        return lambda data: handle(data, prefix)
    key = replies_list(prefix)
    if codec == "raw":
        answer = raw_frame.answer_message  # logs what it refuses
    else:
        import protobuf_message
        answer_protobuf = protobuf_message.answer_message

        def answer(data):
            reply, problem = answer_protobuf(data)
            if problem is not None:
                log(f"{'dropped a request' if reply is None else 'bad request'}: {problem}")
            return reply

    def handle_message(data):
        try:
            reply = answer(data)
        except Exception as e:  # a bug must cost one request, never the peer
            log(f"internal error, request dropped: {e!r}")
            return None
        return None if reply is None else (key, reply)

    return handle_message


def handle(data, prefix: str) -> "tuple[str, bytes] | None":
    """(reply_to, reply) for one queued request, or None when there is nowhere
    to reply (not JSON, no reply_to, or one outside PREFIX): logged, dropped."""
    try:
        return _handle(data, prefix)
    except Exception as e:  # a bug must cost one request, never the peer
        log(f"internal error, request dropped: {e!r}")
        return None


def _handle(data, prefix: str) -> "tuple[str, bytes] | None":
    try:
        msg = jm.decode(data)
    except jm.MessageError as e:
        log(f"dropped a request: {e}")
        return None
    reply_to = msg.get("reply_to")
    if type(reply_to) is not str or not reply_to.startswith(prefix):
        log("dropped a request: reply_to is missing or outside the key prefix")
        return None
    try:
        return reply_to, jm.answer(msg)
    except jm.MessageError as e:
        log(f"bad request (id {jm.request_id(msg)}): {e}")
        return reply_to, jm.error_reply(jm.request_id(msg), str(e))


def report_errors(results, what: str) -> None:
    """Log the failed commands of a pipeline run with raise_on_error=False."""
    for result in results:
        if isinstance(result, Exception):
            log(f"{what}: {result}")


class Outage:
    """Logs a lost connection once, then waits a little between retries."""

    def __init__(self):
        self.down = False

    def failed(self, e: Exception) -> None:
        if not self.down:
            log(f"redis connection failed, retrying: {e}")
            self.down = True
        time.sleep(RETRY_SECONDS)

    def ok(self) -> None:
        if self.down:
            log("redis connection is back")
            self.down = False


def run(address: str, codec: str, echo: bool, inflight: int = 1) -> int:
    import redis

    url, prefix = parse_address(address)
    prepare_codec(codec, echo)
    client = connect(url)
    key = prefix + ":requests"
    echo_key = echo_list(prefix)
    handler = make_handler(codec, prefix)
    outage = Outage()
    replies = []  # (key, reply) still to be pushed
    try:
        announce(address)
        while True:
            try:
                items = _pop(client, key, replies, inflight)
                outage.ok()
            except redis.RedisError as e:  # connection lost, or a pop failed
                outage.failed(e)
                continue
            for data in items:
                reply = (echo_key, data) if echo else handler(data)
                if reply is not None:
                    replies.append(reply)
    finally:
        client.close()


def _pop(client, key: str, replies, inflight: int) -> list:
    """Pushes `replies` and pops the next requests, in one round trip: one
    with BRPOP, or with calls in flight (inflight > 1) as many as are queued,
    up to K, with BLMPOP (Redis 7), which waits only when none are."""
    pipe = client.pipeline(transaction=False)
    for reply in replies:
        pipe.lpush(*reply)
    if inflight > 1:
        pipe.blmpop(BLOCK_SECONDS, 1, key, direction="RIGHT", count=inflight)
    else:
        pipe.brpop(key, BLOCK_SECONDS)
    *pushed, got = pipe.execute(raise_on_error=False)
    replies.clear()  # sent: never again, even if the pop failed
    report_errors(pushed, "cannot push a reply")
    if isinstance(got, Exception):
        raise got
    if not got:
        return []
    return got[1] if inflight > 1 else [got[1]]
