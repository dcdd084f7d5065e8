"""Redis Streams with a consumer group (schemas/json_transports.md, `redis-stream`).

Address `REDIS_URL#PREFIX`, as for `redis`. At start the peer creates group
`workers` on PREFIX:stream (MKSTREAM; BUSYGROUP means it exists, fine). Each
entry (field `req`) is read with XREADGROUP BLOCK 1000 COUNT K (K from
--inflight, 1 without calls in flight), answered with LPUSH reply_to, then
acknowledged and deleted (XACK, XDEL). Those and the next XREADGROUP go out
together in one pipeline: one round trip per call, or per batch under load.
With --echo the value of `req` is pushed, undecoded, to PREFIX:echo instead,
by the same loop and pipeline. The value is a message of --codec as for
`redis` (json, raw or protobuf; raw and protobuf replies go to PREFIX:replies).
"""

from raw_frame import log
from transports import MESSAGE_CODECS, PeerError, announce, prepare_codec
from transports.redis_list import (BLOCK_SECONDS, Outage, connect, echo_list, make_handler,
                                   parse_address, report_errors)

CODECS = MESSAGE_CODECS
DEFAULT_ADDRESS = None

GROUP = "workers"
CONSUMER = "peer"
FIELD = b"req"


def create_group(client, stream: str) -> None:
    import redis
    try:
        client.xgroup_create(stream, GROUP, id="$", mkstream=True)
    except redis.ResponseError as e:
        if "BUSYGROUP" not in str(e):
            raise PeerError(f"cannot create consumer group {GROUP} on {stream}: {e}") from None
    except redis.RedisError as e:
        raise PeerError(f"cannot create consumer group {GROUP} on {stream}: {e}") from None


def run(address: str, codec: str, echo: bool, inflight: int = 1) -> int:
    import redis

    url, prefix = parse_address(address)
    prepare_codec(codec, echo)
    client = connect(url)
    stream = prefix + ":stream"
    echo_key = echo_list(prefix)
    handler = make_handler(codec, prefix)
    create_group(client, stream)
    outage = Outage()
    replies = []  # (key, reply) still to be pushed
    done = []  # ids of the entries still to be acknowledged and deleted
    block_ms = BLOCK_SECONDS * 1000
    try:
        announce(address)
        while True:
            try:
                pipe = client.pipeline(transaction=False)
                for reply in replies:
                    pipe.lpush(*reply)
                if done:
                    pipe.xack(stream, GROUP, *done)
                    pipe.xdel(stream, *done)
                pipe.xreadgroup(GROUP, CONSUMER, {stream: ">"}, count=inflight, block=block_ms)
                results = pipe.execute(raise_on_error=False)
                replies, done = [], []
                report_errors(results[:-1], "cannot reply or acknowledge")
                entries = results[-1]
                if isinstance(entries, Exception):
                    raise entries
                outage.ok()
            except redis.RedisError as e:  # connection lost, NOGROUP, ...
                outage.failed(e)
                continue
            # [[stream, [(entry_id, {field: value})]]], or empty after BLOCK
            for _, stream_entries in entries or ():
                for entry_id, fields in stream_entries:
                    done.append(entry_id)
                    data = fields.get(FIELD) if fields else None
                    if data is None:
                        log(f"dropped stream entry {entry_id!r}: no field 'req'")
                        continue
                    reply = (echo_key, data) if echo else handler(data)
                    if reply is not None:
                        replies.append(reply)
    finally:
        client.close()
