"""REST: FastAPI on uvicorn (one worker, HTTP/1.1 keep-alive) on 127.0.0.1.

POST /add, POST /score, POST /batch, GET /health (schemas/json_transports.md).
Bad input gets a 4xx with a JSON body {"error": "..."}; a body over
MAX_JSON_BYTES, 413. A batch is answered item by item by json_message (a
wrong item is that item's {"error": ...}, a wrong shape a 400). With --echo,
/add, /score and /batch answer 200 with the request body itself, parsed by
nothing; the rest of the app (health, body bound, errors) is the same.
"""

import asyncio
import logging
import os
import socket
import sys
from typing import Literal, Optional

from raw_frame import log
from transports import PeerError, announce
from transports.tcp import parse_address

CODECS = ("json",)
DEFAULT_ADDRESS = None

SHUTDOWN_GRACE = 1.0  # seconds open requests get to finish after SIGTERM


def build_app(echo: bool = False):
    """The FastAPI application (imported lazily: FastAPI takes ~0.3 s to import);
    with `echo`, its /add, /score and /batch send the request body straight back."""
    from fastapi import FastAPI
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException as StarletteHTTPException

    import json_message as jm

    json_type = "application/json"

    def reply(body: bytes, status: int = 200) -> Response:
        return Response(body, status, media_type=json_type)

    def error(status: int, message: str, headers=None, id=None) -> Response:
        log(f"bad request (id {id}): {status} {message}")
        return Response(jm.error_reply(id, message), status, headers, media_type=json_type)

    app = FastAPI(title="interop-spectrum Python peer", openapi_url=None, docs_url=None,
                  redoc_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc):
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.get("/health")
    async def health():
        return reply(b'{"status":"ok"}')

    if echo:
        _add_echo_routes(app, reply)
    else:
        _add_routes(app, reply, error)
    app.add_middleware(BodyLimit, limit=jm.MAX_JSON_BYTES)
    return app


def _add_echo_routes(app, reply) -> None:
    """The floor: POST /add, /score and /batch answered with their own body,
    through the same stack as the rows (middleware, routing, Request) but
    parsed by nothing."""
    from fastapi import Request

    async def echo(request: Request):
        return reply(await request.body())

    app.post("/add")(echo)
    app.post("/score")(echo)
    app.post("/batch")(echo)


def _add_routes(app, reply, error) -> None:
    """POST /add and /score: the body validated by pydantic, then answered;
    POST /batch: the body answered by json_message, item by item."""
    from fastapi import Request
    from pydantic import BaseModel, ValidationError, conint

    import json_message as jm

    Id = conint(strict=True, ge=0, le=jm.UINT64_MAX)
    Int64 = conint(strict=True, ge=jm.INT64_MIN, le=jm.INT64_MAX)

    class Features(list):
        """A list of at most MAX_FEATURES numbers; the items are checked by the
        score itself (see json_message), not one by one here."""

        @classmethod
        def __get_validators__(cls):
            yield jm.check_features

    class Model(str):
        """A string of at most MAX_MODEL_BYTES UTF-8 bytes."""

        @classmethod
        def __get_validators__(cls):
            yield jm.check_model

    class AddRequest(BaseModel):
        id: Id
        x: Int64
        y: Int64
        op: Optional[Literal["add"]] = None

    class ScoreRequest(BaseModel):
        id: Id
        features: Features
        model: Model
        op: Optional[Literal["score"]] = None

    async def validated(request: Request, model):
        """The request body checked by `model`; a 400 or 422 Response if it fails."""
        msg = None
        try:
            msg = jm.decode(await request.body())
            return model.parse_obj(msg)
        except jm.MessageError as e:  # not JSON, not an object, too long
            return error(400, str(e))
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(map(str, first["loc"]))
            return error(422, f"{where}: {first['msg']}", id=jm.request_id(msg))

    @app.post("/add")
    async def add(request: Request):
        req = await validated(request, AddRequest)
        if type(req) is not AddRequest:
            return req
        return reply(jm.add_reply(req.id, req.x, req.y))

    @app.post("/score")
    async def score(request: Request):
        req = await validated(request, ScoreRequest)
        if type(req) is not ScoreRequest:
            return req
        try:
            return reply(jm.score_reply(req.id, req.features, req.model))
        except jm.MessageError as e:  # a feature that is not a number
            return error(422, str(e), id=req.id)

    @app.post("/batch")
    async def batch(request: Request):
        # Not pydantic: a wrong item must cost only its own place in the reply,
        # and json_message checks each item as its single call would be checked.
        msg = None
        try:
            msg = jm.decode(await request.body())
            if msg.get("op") != "batch":
                raise jm.MessageError('POST /batch takes a body whose op is "batch"')
            return reply(jm.answer_batch(jm.check_id(msg.get("id")), msg))
        except jm.MessageError as e:  # not JSON, no id, a wrong shape
            return error(400, str(e), id=jm.request_id(msg))


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Pure ASGI middleware: 413 for a body over `limit` bytes, from its
    Content-Length before anything is read, or counted as it arrives when the
    body is chunked."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope["headers"]:
            if name == b"content-length":
                if int(value) > self.limit:  # h11 has checked it is a number
                    return await self._refuse(send)
                return await self.app(scope, receive, send)  # h11 enforces the length

        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge()
            return message

        async def tracking_send(message):
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send):
        import json_message as jm
        log(f"bad request: body over {self.limit} bytes: 413")
        body = jm.error_reply(None, f"request body is larger than {self.limit} bytes")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def run(address: str, codec: str, echo: bool, inflight: int = 1) -> int:
    host, port = parse_address(address)

    import uvicorn

    class Server(uvicorn.Server):
        """Prints READY once the listening socket is served (uvicorn's startup
        event fires earlier, before the port listens)."""

        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit:
                announce(f"{host}:{self.servers[0].sockets[0].getsockname()[1]}")

        async def shutdown(self, sockets=None):
            # uvicorn 0.17 waits for every open request to finish, with no
            # limit: a client stalled in the middle of a body would keep the
            # peer alive after SIGTERM. Give them SHUTDOWN_GRACE, then go.
            timer = asyncio.get_running_loop().call_later(SHUTDOWN_GRACE, self._give_up)
            try:
                await super().shutdown(sockets=sockets)
            finally:
                timer.cancel()

        def _give_up(self):
            log("requests still open after SIGTERM; exiting anyway")
            # Their tasks get cancelled on the way out: no traceback for each.
            logging.getLogger("uvicorn.error").disabled = True
            self.force_exit = True

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format=f"python-peer[{os.getpid()}]: %(name)s: %(message)s")
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that
    # say so (accepted ones inherit it). Without it every reply, written as
    # headers then body, waits ~40 ms for the client's delayed ACK.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError as e:
            raise PeerError(f"cannot bind {host}:{port}: {e}") from None
        config = uvicorn.Config(build_app(echo), http="h11", ws="none", lifespan="off",
                                log_config=None, log_level="warning", access_log=False,
                                workers=1, timeout_keep_alive=75, server_header=False,
                                date_header=False)
        server = Server(config)
        asyncio.run(server.serve(sockets=[listener]))
    finally:
        listener.close()
    return 0
