"""Served-engine adapter: runs forcing steps on one or more running ``vllm serve`` processes.

    engine = prepare("http://node1:8000/v1;http://node2:8000/v1", model="s1.1-32B").get()

Every step goes to the OpenAI-compatible completions API as prompt **token ids** and streams
back its generated token ids (``return_token_ids``), so a continuation never re-tokenizes text;
``timeout`` is the longest silence allowed, not a step's length.
Steps run concurrently (asyncio on a background thread, at most ``num_concurrent`` in flight)
and each request continues the moment its step returns. A new request goes to the server with
the least outstanding work; its later steps (and every other request with the same prompt, such
as a sweep's budgets) go back to that server, whose prefix cache holds the prompt, unless it
is clearly busier than another (a restarted or late node): then the prompt moves to the
least busy one, which recomputes its prefix once rather than sitting idle. A server
that keeps failing after ``max_retries`` retries is dropped and its steps move to the others;
it takes new prompts again once its ``/health`` answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import queue
import threading
import weakref
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from s1_eval.common.errors import InputError, ServerUnavailable
from s1_eval.common.log import logger
from s1_eval.core.steps import GenerationStep, StepResult
from s1_eval.engines.lazy import LazyEngine
from s1_eval.engines.openai_api import (
    StreamedStep,
    headers,
    probe,
    request_body,
    split_urls,
)
from s1_eval.engines.tokenizer import load_tokenizer

#: first retry waits this long, each further one twice as long
BACKOFF_S = 0.5
#: a dropped server's /health is asked this often; it takes steps again once it answers
READMIT_S = 5.0
#: HTTP statuses that say "try again" rather than "this request is wrong"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: a prompt leaves its home server when that one has this many more steps in flight...
BALANCE_ABS = 8
#: ...and this many times as many as the least busy server
BALANCE_REL = 1.5


def prepare(
    base_url: str,
    model: str | None = None,
    tokenizer: str | None = None,
    num_concurrent: int = 64,
    max_retries: int = 3,
    timeout: float = 600.0,
    max_model_len: int | None = None,
    trust_remote_code: bool = False,
) -> LazyEngine:
    """Check the servers and the arguments and load the tokenizer; nothing is generated yet."""
    for name, value, least in (
        ("num_concurrent", num_concurrent, 1),
        ("max_retries", max_retries, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise InputError(f"{name}={value!r} is invalid: expected a whole number ≥ {least}.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise InputError(f"timeout={timeout!r} is invalid: expected seconds > 0.")
    roots, card = probe(split_urls(base_url), model)
    # the card's root is the folder or hub name the server loaded: the same tokenizer files
    source = tokenizer or card.get("root") or card["id"]
    loop_tokenizer = load_tokenizer(source, trust_remote_code=trust_remote_code)
    context = max_model_len or card.get("max_model_len")
    if not context:
        raise InputError("The server does not report max_model_len: give max_model_len=N.")
    settings = ServerSettings(card["id"], num_concurrent, max_retries, float(timeout))
    return LazyEngine(
        "server",
        loop_tokenizer,
        int(context),
        lambda: ServerEngine(roots, settings, loop_tokenizer, int(context)),
    )


@dataclass(frozen=True)
class ServerSettings:
    model: str
    num_concurrent: int = 64
    max_retries: int = 3
    timeout: float = 600.0


@dataclass
class _Server:
    root: str
    healthy: bool = True
    outstanding: int = 0  # tokens asked for by the steps in flight there
    in_flight: int = 0  # steps in flight there
    steps: int = 0


def _overloaded(home: _Server, healthy: list[_Server]) -> bool:
    """Whether ``home`` is so much busier than the idlest server that its cache is not worth it."""
    idlest = min(server.in_flight for server in healthy)
    return home.in_flight - idlest > BALANCE_ABS and home.in_flight > BALANCE_REL * idlest


def _shut_down(loop: asyncio.AbstractEventLoop, session: Any) -> None:
    if loop.is_running():
        # exiting anyway: a connection left open is harmless here
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(session.close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)


@dataclass
class _Flight:
    """One step on its way: its key, its step, the task running it."""

    key: Hashable
    step: GenerationStep
    max_tokens: int
    future: Any = field(default=None, repr=False)


class ServerEngine:
    """Forcing steps over HTTP (see module docstring); ``stats`` counts steps, tokens, retries."""

    def __init__(self, roots: list[str], settings: ServerSettings, tokenizer: Any, max_len: int):
        self.settings = settings
        self.tokenizer = tokenizer
        self.max_model_len = max_len
        self.servers = [_Server(root) for root in roots]
        self._home: dict[str, _Server] = {}  # prompt head -> the server caching it
        self._watchers: set[asyncio.Future] = set()  # one per dropped server, until it is back
        self._done: queue.Queue = queue.Queue()
        self._flights: dict[int, _Flight] = {}
        self._pending = 0  # submitted steps whose result collect() has not returned yet
        self._ready: list[tuple[Hashable, StepResult]] = []
        self._lock = threading.Lock()
        self.stats = {"steps": 0, "prompt_tokens": 0, "cached_prompt_tokens": 0,
                      "generated_tokens": 0, "retries": 0, "moved": 0, "errors": 0}  # fmt: skip
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._session = self._call(self._open_session())
        self._slots = asyncio.Semaphore(settings.num_concurrent)
        # closes the connections when the engine goes away or the interpreter exits
        self._closer = weakref.finalize(self, _shut_down, self._loop, self._session)

    # -- Engine protocol --------------------------------------------------------------------
    def submit(self, key: Hashable, step: GenerationStep) -> None:
        room = self.max_model_len - len(step.prompt_token_ids)
        if room < 1:
            self._ready.append((key, StepResult((), "", "length")))
            return
        flight = _Flight(key, step, min(step.max_tokens, room))
        with self._lock:
            self._flights[id(flight)] = flight
        self._pending += 1
        flight.future = asyncio.run_coroutine_threadsafe(self._run(flight), self._loop)

    def collect(self) -> list[tuple[Hashable, StepResult]]:
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        if not self._pending:
            raise RuntimeError("collect() called with no request in flight")
        finished = [self._done.get()]
        while not self._done.empty():
            finished.append(self._done.get_nowait())
        for item in finished:
            if isinstance(item, BaseException):
                self.cancel()
                raise item
        self._pending -= len(finished)
        return finished

    def cancel(self) -> None:
        """Drop every step in flight (closing its connection makes vLLM abort it)."""
        with self._lock:
            flights, self._flights = list(self._flights.values()), {}
        for flight in flights:
            flight.future.cancel()
        self._pending = 0
        self._ready.clear()
        while not self._done.empty():
            self._done.get_nowait()

    def close(self) -> None:
        self.cancel()
        self._closer()

    # -- the event loop's side --------------------------------------------------------------
    def _call(self, coroutine) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    async def _open_session(self):
        import aiohttp

        # no limit on a whole step (long thinking is fine); a silent server counts as failed
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=min(self.settings.timeout, 30), sock_read=self.settings.timeout
        )
        return aiohttp.ClientSession(timeout=timeout, headers=headers())

    def _server_for(self, step: GenerationStep) -> _Server:
        healthy = [s for s in self.servers if s.healthy]
        if not healthy:
            raise ServerUnavailable(
                "Every vLLM server failed: "
                + ", ".join(s.root for s in self.servers)
                + ". Check that they are up (GET /health), then rerun; with --use_cache the "
                "finished responses are kept."
            )
        head = hashlib.blake2b(repr(step.prompt_token_ids[: step.head_len]).encode()).hexdigest()
        home = self._home.get(head)
        least = min(healthy, key=lambda s: s.outstanding)
        if home is None or not home.healthy or _overloaded(home, healthy):
            home = least
            self._home[head] = home
        return home

    async def _run(self, flight: _Flight) -> None:
        try:
            async with self._slots:
                result = await self._send(flight)
        except asyncio.CancelledError:
            return
        except BaseException as error:  # reaches collect(), which raises it
            result = error
        with self._lock:
            if self._flights.pop(id(flight), None) is None:
                return  # cancelled meanwhile
        self._done.put(result if isinstance(result, BaseException) else (flight.key, result))

    async def _send(self, flight: _Flight) -> StepResult:
        body = request_body(self.settings.model, flight.step, flight.max_tokens)
        while True:
            server = self._server_for(flight.step)
            outcome = await self._try_server(server, body, flight.max_tokens)
            if outcome is not None:
                return outcome
            if server.healthy:
                server.healthy = False
                logger.warning(
                    "s1_server: %s failed %d times in a row; its steps move to the other servers",
                    server.root,
                    self.settings.max_retries + 1,
                )
                watcher = asyncio.ensure_future(self._readmit(server))
                self._watchers.add(watcher)  # held, or the loop could drop the task
                watcher.add_done_callback(self._watchers.discard)
            self.stats["moved"] += 1

    async def _readmit(self, server: _Server) -> None:
        """Take a dropped server back once its /health answers (a restarted node)."""
        import aiohttp

        while not server.healthy:
            await asyncio.sleep(READMIT_S)
            try:
                async with self._session.get(f"{server.root}/health") as response:
                    server.healthy = response.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                continue
        logger.warning("s1_server: %s answers again; it takes new prompts", server.root)

    async def _try_server(self, server: _Server, body: dict, work: int) -> StepResult | None:
        """The step's result from this server, or None once it failed every retry."""
        import aiohttp

        url = f"{server.root}/v1/completions"
        for attempt in range(self.settings.max_retries + 1):
            if attempt:
                self.stats["retries"] += 1
                await asyncio.sleep(BACKOFF_S * 2 ** (attempt - 1))
                if not server.healthy:
                    return None
            server.outstanding += work
            server.in_flight += 1
            try:
                async with self._session.post(url, json=body) as response:
                    status = response.status
                    if status == 200:
                        stream = StreamedStep()
                        async for data in response.content.iter_any():
                            if stream.feed_bytes(data):
                                break
                    else:
                        payload = await response.text()
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                logger.info("s1_server: %s: %r (attempt %d)", url, error, attempt + 1)
                continue
            finally:
                server.outstanding -= work
                server.in_flight -= 1
            if status == 200:
                if stream.finish_reason is None and stream.error is None:
                    logger.info("s1_server: %s: stream cut short (attempt %d)", url, attempt + 1)
                    continue
                return self._record(server, stream)
            if status not in RETRY_STATUSES:
                return self._refused(status, payload)
            logger.info("s1_server: %s: HTTP %d (attempt %d)", url, status, attempt + 1)
        return None

    def _refused(self, status: int, payload: str) -> StepResult:
        """A 4xx (e.g. the prompt no longer fits): this request ends, the run goes on."""
        try:
            message = json.loads(payload).get("error", {}).get("message") or payload
        except (ValueError, AttributeError):
            message = payload
        self.stats["errors"] += 1
        return StepResult((), "", "error", error=f"HTTP {status}: {str(message)[:300]}")

    def _record(self, server: _Server, stream: StreamedStep) -> StepResult:
        server.steps += 1
        usage = stream.usage
        details = usage.get("prompt_tokens_details") or {}
        self.stats["steps"] += 1
        self.stats["prompt_tokens"] += usage.get("prompt_tokens") or 0
        self.stats["cached_prompt_tokens"] += details.get("cached_tokens") or 0
        self.stats["generated_tokens"] += usage.get("completion_tokens") or 0
        if stream.error is not None:
            self.stats["errors"] += 1
        return stream.result()
