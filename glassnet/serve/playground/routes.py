"""The playground's and the explorers' pages and JSON API, as Starlette routes for the `glassnet serve` app.

Session API (what the playground page uses; bodies and answers are JSON, errors are `{"error": message}`):

    GET    /api/playground                      {"sessions", "max_sessions", "idle_timeout"}
    POST   /api/playground                      configuration → {"id"}   (400 bad value, 429 too many sessions)
    GET    /api/playground/{id}/state           {"step", "train_loss", "test_loss", weights, maps, points, ...}
    POST   /api/playground/{id}/step            {"steps": n} → {"step", "train_loss", "test_loss"}
    POST   /api/playground/{id}/play            {"playing": bool, "steps_per_frame": n}
    POST   /api/playground/{id}/trace           {"point": i} → glassnet.lens.trace of training point i's loss
    GET    /api/playground/{id}/frames          server-sent events: one frame (as in state) at most 10 times a second;
                                                the session ends when this stream closes (the tab went away)
    DELETE /api/playground/{id}                 {"deleted": true|false}  (idempotent)

The explorers: GET /api/explorer/cnn/models, GET /api/explorer/cnn/{model}, POST /api/explorer/cnn/{model}/analyze
{"pixels", "center"}, GET /api/explorer/cnn/images/{file}; POST /api/explorer/attention/train {"steps"},
POST /api/explorer/attention/run {"digits"}.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from glassnet.serve.playground.config import (
    ACTIVATIONS,
    DATASETS,
    FEATURES,
    MAX_HIDDEN_LAYERS,
    MAX_NEURONS,
    OPTIMIZERS,
    REGULARIZATIONS,
    ConfigError,
    PlaygroundConfig,
    parse_config,
)
from glassnet.serve.playground.explorers import AttentionExplorer, CNNExplorer
from glassnet.serve.playground.sessions import SessionError, SessionManager, steps_for

FRAME_INTERVAL = 0.1  # at most 10 frames a second
KEEPALIVE = 1.0  # seconds between two messages on a paused stream (so a closed tab is noticed)
MAX_STEPS_PER_FRAME = 100
logger = logging.getLogger("glassnet.serve.playground")
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf (a diverged network has them): they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _dumps(data: Any) -> str:
    try:
        return json.dumps(data, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_clean(data), allow_nan=False, separators=(",", ":"))


def _json(data: Any, status: int = 200) -> Response:
    return Response(_dumps(data), status_code=status, media_type="application/json")


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request) -> dict:
    """The JSON object a POST carries. Only `application/json` is read: another site's page cannot send that type
    without the browser's CORS preflight, which this server never grants (so no cross-site requests)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise SessionError(f"send the request body as JSON (Content-Type: application/json), not {content_type!r}", 415)
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise SessionError(f"the request body is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise SessionError(f"the request body must be a JSON object, got {type(data).__name__}")
    return data


def _handled(handler):
    """Turn the API's own errors into 4xx answers with a message the page shows."""

    async def wrapper(request: Request) -> Response:
        origin = request.headers.get("origin")
        if request.method not in ("GET", "HEAD") and origin and urlsplit(origin).netloc != request.headers.get("host"):
            return _error(f"cross-site request from {origin} refused", 403)
        try:
            return await handler(request)
        except ConfigError as e:
            return _error(str(e), 400)
        except SessionError as e:
            return _error(str(e), e.status)

    wrapper.__name__ = handler.__name__
    return wrapper


def routes(
    max_sessions: int = 16,
    idle_timeout: float = 300.0,
    data_dir: str | os.PathLike | None = None,
    lenet_checkpoint: str | os.PathLike | None = None,
) -> list[BaseRoute]:
    """The pages /playground, /explorer/cnn, /explorer/attention and their API, sharing one set of sessions.

    `max_sessions` and `idle_timeout` (seconds) bound the playground sessions; `data_dir` (default $GLASSNET_DATA)
    holds CNN Explainer's TinyVGG files; `lenet_checkpoint` names LeNet-5 weights to use instead of the cached ones.
    """
    manager = SessionManager(max_sessions=max_sessions, idle_timeout=idle_timeout)
    cnn = CNNExplorer(data_dir=data_dir, lenet_checkpoint=lenet_checkpoint)
    attention = AttentionExplorer()

    # ----- pages -------------------------------------------------------------------------------------------------
    async def playground_page(request: Request) -> Response:
        controls = {
            "datasets": DATASETS,
            "features": FEATURES,
            "activations": ACTIVATIONS,
            "regularizations": REGULARIZATIONS,
            "optimizers": OPTIMIZERS,
            "max_hidden_layers": MAX_HIDDEN_LAYERS,
            "max_neurons": MAX_NEURONS,
            "defaults": PlaygroundConfig().to_dict(),
        }
        as_json = _dumps(controls).replace("<", "\\u003c")  # safe inside <script>
        return TEMPLATES.TemplateResponse(request, "playground.html", {"controls": controls, "controls_json": as_json})

    async def cnn_page(request: Request) -> Response:
        return TEMPLATES.TemplateResponse(request, "cnn.html", {"models": cnn.available()})

    async def attention_page(request: Request) -> Response:
        return TEMPLATES.TemplateResponse(request, "attention.html", {})

    # ----- the session API ---------------------------------------------------------------------------------------
    @_handled
    async def sessions_info(request: Request) -> Response:
        manager.reap()
        return _json(
            {"sessions": len(manager), "max_sessions": manager.max_sessions, "idle_timeout": manager.idle_timeout}
        )

    @_handled
    async def create(request: Request) -> Response:
        config = parse_config(await _body(request))
        session = await run_in_threadpool(manager.create, config)
        return _json({"id": session.id, "config": config.to_dict()}, status=201)

    @_handled
    async def state(request: Request) -> Response:
        session = manager.get(request.path_params["id"])
        return _json(await run_in_threadpool(session.state))

    @_handled
    async def step(request: Request) -> Response:
        session = manager.get(request.path_params["id"])
        steps = steps_for((await _body(request)).get("steps", 1))
        return _json(await run_in_threadpool(session.advance, steps))

    @_handled
    async def play(request: Request) -> Response:
        session = manager.get(request.path_params["id"])
        body = await _body(request)
        playing = body.get("playing", True)
        if not isinstance(playing, bool):
            raise SessionError(f"play: 'playing' must be true or false, got {playing!r}")
        if "steps_per_frame" in body:
            session.steps_per_frame = steps_for(body["steps_per_frame"], "steps_per_frame", MAX_STEPS_PER_FRAME)
        session.playing = playing
        return _json({"playing": session.playing, "steps_per_frame": session.steps_per_frame})

    @_handled
    async def trace_point(request: Request) -> Response:
        session = manager.get(request.path_params["id"])
        point = (await _body(request)).get("point")
        return _json(await run_in_threadpool(session.trace_point, point))

    @_handled
    async def delete(request: Request) -> Response:
        # idempotent: the page's pagehide request and its closing stream both end the session
        return _json({"deleted": manager.delete(request.path_params["id"])})

    @_handled
    async def frames(request: Request) -> Response:
        sid = request.path_params["id"]
        session = manager.get(sid)
        manager.streaming.add(sid)

        async def stream():
            sent_step, last_sent = -1, 0.0
            next_at = time.monotonic()
            try:
                while sid in manager:  # DELETE, or the server's end, stops the stream
                    if session.playing:
                        try:
                            await run_in_threadpool(session.advance, session.steps_per_frame)
                        except Exception as e:  # a bug, not bad input: stop this session, say so, keep serving
                            logger.exception("playground session %s stopped", sid)
                            session.playing = False
                            yield f"event: failure\ndata: {_dumps({'error': f'training stopped: {e}'})}\n\n"
                    if session.step_count != sent_step or session.playing:
                        frame = await run_in_threadpool(session.frame)
                        sent_step, last_sent = frame["step"], time.monotonic()
                        yield f"data: {_dumps(frame)}\n\n"
                    elif time.monotonic() - last_sent > KEEPALIVE:
                        last_sent = time.monotonic()
                        yield ": keep-alive\n\n"
                    # a steady clock of FRAME_INTERVAL ticks; a late frame moves the clock, never a burst to catch up
                    next_at = max(next_at + FRAME_INTERVAL, time.monotonic())
                    await anyio.sleep(max(0.0, next_at - time.monotonic()))
            finally:  # the page went away (tab closed, navigated, reconfigured): its session ends with it
                manager.delete(sid)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        )

    # ----- the explorers -------------------------------------------------------------------------------------------
    @_handled
    async def cnn_models(request: Request) -> Response:
        return _json({"models": cnn.available()})

    @_handled
    async def cnn_info(request: Request) -> Response:
        return _json(await run_in_threadpool(cnn.info, request.path_params["model"]))

    @_handled
    async def cnn_analyze(request: Request) -> Response:
        body = await _body(request)
        center = body.get("center", False)
        if not isinstance(center, bool):
            raise SessionError(f"cnn explorer: 'center' must be true or false, got {center!r}")
        return _json(await run_in_threadpool(cnn.analyze, request.path_params["model"], body.get("pixels"), center))

    @_handled
    async def cnn_image(request: Request) -> Response:
        return FileResponse(cnn.image_path(request.path_params["file"]))

    @_handled
    async def attention_train(request: Request) -> Response:
        steps = steps_for((await _body(request)).get("steps", 400), "steps", 5000)
        return _json(await run_in_threadpool(attention.train, steps))

    @_handled
    async def attention_run(request: Request) -> Response:
        return _json(await run_in_threadpool(attention.run, (await _body(request)).get("digits")))

    return [
        Route("/playground", playground_page),
        Route("/explorer/cnn", cnn_page),
        Route("/explorer/attention", attention_page),
        Route("/api/playground", sessions_info, methods=["GET"]),
        Route("/api/playground", create, methods=["POST"]),
        Route("/api/playground/{id}/state", state, methods=["GET"]),
        Route("/api/playground/{id}/step", step, methods=["POST"]),
        Route("/api/playground/{id}/play", play, methods=["POST"]),
        Route("/api/playground/{id}/trace", trace_point, methods=["POST"]),
        Route("/api/playground/{id}/frames", frames, methods=["GET"]),
        Route("/api/playground/{id}", delete, methods=["DELETE"]),
        Route("/api/explorer/cnn/models", cnn_models, methods=["GET"]),
        Route("/api/explorer/cnn/images/{file}", cnn_image, methods=["GET"]),
        Route("/api/explorer/cnn/{model}", cnn_info, methods=["GET"]),
        Route("/api/explorer/cnn/{model}/analyze", cnn_analyze, methods=["POST"]),
        Route("/api/explorer/attention/train", attention_train, methods=["POST"]),
        Route("/api/explorer/attention/run", attention_run, methods=["POST"]),
    ]
