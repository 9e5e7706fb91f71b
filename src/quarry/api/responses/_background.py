"""Background responses (https://platform.openai.com/docs/guides/background): the work after `queued` was sent, as a
task in the AppContext's BackgroundTasks, its status moved on in the store and its heartbeat beaten while it runs;
a streamed one's events in a Feed that clients follow, and may leave and resume (`starting_after`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from quarry.api._background import Feed
from quarry.api._context import AppContext
from quarry.api._core import Usage
from quarry.api._exchange import watch_converse
from quarry.api.responses._render import Builder
from quarry.api.responses._store import HEARTBEAT_S, ResponseStore
from quarry.api.responses._stream import EventWriter
from quarry.errors import QuarryError
from quarry.exchange import Exchange
from quarry.store import Database

__all__ = ["fail_unfinished", "start_in_background", "stream_in_background"]

log = logging.getLogger("quarry.responses")
# Where else a response's end goes (its conversation), once the store took it and it was not cancelled meanwhile.
Finished = Callable[[dict[str, Any]], Awaitable[None]]


async def _nothing(final: dict[str, Any]) -> None:
    return None


async def fail_unfinished(database: Database) -> int:
    """At start-up: background responses a stopped instance left queued or in progress (their heartbeat stopped) are
    failed, with the reason, never left in progress for ever."""
    return await ResponseStore(database).fail_abandoned()


def start_in_background(
    context: AppContext, exchange: Exchange, builder: Builder, store: ResponseStore, finished: Finished = _nothing
) -> None:
    """Run a background response's work after its request is answered, recorded as an Exchange of its own (the
    request's closes, with no tokens, when `queued` is sent)."""
    context.background.start(builder.id, _run(context, _work(exchange), builder, store, finished))


def stream_in_background(
    context: AppContext,
    exchange: Exchange,
    writer: EventWriter,
    builder: Builder,
    store: ResponseStore,
    finished: Finished = _nothing,
) -> Feed:
    """Run a background response that streams: its events go to a Feed the creating request (and any later
    `GET ?stream=true&starting_after=N` on this instance) follows; leaving it does not stop the response."""
    work = _work(exchange)
    work.stream = True
    feed = Feed()
    context.background.start(builder.id, _run_stream(context, work, writer, builder, store, feed, finished), feed)
    return feed


def _work(exchange: Exchange) -> Exchange:
    work = Exchange(request_id=exchange.request_id, method="POST", path=exchange.path, api="responses.background")
    work.key_id, work.key_name, work.model = exchange.key_id, exchange.key_name, exchange.model
    # Priced as the request was admitted (its pricer, the service tier asked), so the work's cost is counted and its
    # budget reservation settled with it.
    work.pricer, work.service_tier = exchange.pricer, exchange.service_tier
    work.guardrail_pricer = exchange.guardrail_pricer
    # The key's admission (a concurrency slot, the tokens reserved) is settled when the work ends, with the tokens
    # it used, not when the request is answered: a background response counts against the key's limits as it runs.
    # Moved here, before the request's answer goes out and its Exchange closes.
    work.on_close, exchange.on_close = exchange.on_close, []
    return work


async def _run_stream(
    context: AppContext,
    work: Exchange,
    writer: EventWriter,
    builder: Builder,
    store: ResponseStore,
    feed: Feed,
    finished: Finished,
) -> None:
    runtime = context.services.runtime
    try:
        if not await store.advance(builder.body("in_progress")):
            return  # cancelled while queued
        beating = asyncio.create_task(_beat(store, builder.id))
        try:
            async with runtime.converse_stream(builder.plan.model.id, builder.plan.body) as events:
                async for event in watch_converse(events, work):
                    await feed.extend(writer.event(event))
            if await store.advance(writer.end()):
                await finished(writer.end())
            await feed.extend([writer.finish()])
            work.status = 200
        except QuarryError as error:
            await feed.extend(writer.failure(error))
            work.fail(error)
            work.status = error.status
            await store.advance(writer.end())
        finally:
            beating.cancel()
    except asyncio.CancelledError:
        work.status, work.error_type = 499, "cancelled"
        raise  # the cancel request has stored the response as cancelled
    except Exception as error:  # whatever it was, the stored response must not stay in_progress
        log.exception("background response %s failed", builder.id)
        work.fail(error)
        work.status = 500
        failed = builder.body("failed")
        failed["error"] = {"code": "server_error", "message": "The response failed inside Quarry; see the server log."}
        await store.advance(failed)
    finally:
        await feed.close()
        _settle(context, work)


def _settle(context: AppContext, work: Exchange) -> None:
    work.finished_at = time.perf_counter()
    for settle in work.on_close:
        settle(work)
    context.usage(work)


async def _run(context: AppContext, work: Exchange, builder: Builder, store: ResponseStore, finished: Finished) -> None:
    try:
        if not await store.advance(builder.body("in_progress")):
            return  # cancelled while queued
        beating = asyncio.create_task(_beat(store, builder.id))
        try:
            answer = await context.services.runtime.converse(builder.plan.model.id, builder.plan.body)
        finally:
            beating.cancel()
        work.note_usage(Usage.from_converse(answer.get("usage")).counts())
        if "serviceTier" in answer:  # the tier that served it (the runtime notes it on the request's, long closed)
            work.service_tier = answer["serviceTier"].get("type")
        work.status = 200
        final = builder.whole(answer)
        if await store.advance(final):
            await finished(final)
    except asyncio.CancelledError:
        work.status, work.error_type = 499, "cancelled"
        raise  # the cancel request has stored the response as cancelled
    except Exception as error:  # whatever it was, the stored response must not stay in_progress
        known = error if isinstance(error, QuarryError) else None
        if known is None:
            log.exception("background response %s failed", builder.id)
        work.fail(error)
        work.status = known.status if known is not None else 500
        failed = builder.body("failed")
        message = known.message if known is not None else "The response failed inside Quarry; see the server log."
        failed["error"] = {"code": "server_error", "message": message}
        await store.advance(failed)
    finally:
        _settle(context, work)


async def _beat(store: ResponseStore, response_id: str) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        await store.beat(response_id)
