"""Background responses (https://platform.openai.com/docs/guides/background): the work after `queued` was sent, as a
task in the AppContext's BackgroundTasks, its status moved on in the store and its heartbeat beaten while it runs."""

from __future__ import annotations

import asyncio
import logging
import time

from quarry.api._context import AppContext
from quarry.api._core import Usage
from quarry.api.responses._render import Builder
from quarry.api.responses._store import HEARTBEAT_S, ResponseStore
from quarry.errors import QuarryError
from quarry.exchange import Exchange
from quarry.store import Database

__all__ = ["fail_unfinished", "start_in_background"]

log = logging.getLogger("quarry.responses")


async def fail_unfinished(database: Database) -> int:
    """At start-up: background responses a stopped instance left queued or in progress (their heartbeat stopped) are
    failed, with the reason, never left in progress for ever."""
    return await ResponseStore(database).fail_abandoned()


def start_in_background(context: AppContext, exchange: Exchange, builder: Builder, store: ResponseStore) -> None:
    """Run a background response's work after its request is answered, recorded as an Exchange of its own (the
    request's closes, with no tokens, when `queued` is sent)."""
    work = Exchange(request_id=exchange.request_id, method="POST", path=exchange.path, api="responses.background")
    work.key_id, work.key_name, work.model = exchange.key_id, exchange.key_name, exchange.model
    # The key's admission (a concurrency slot, the tokens reserved) is settled when the work ends, with the tokens
    # it used, not when `queued` is sent: a background response counts against the key's limits as it runs. Moved
    # here, before the request's answer goes out and its Exchange closes.
    work.on_close, exchange.on_close = exchange.on_close, []
    context.background.start(builder.id, _run(context, work, builder, store))


async def _run(context: AppContext, work: Exchange, builder: Builder, store: ResponseStore) -> None:
    try:
        if not await store.advance(builder.body("in_progress")):
            return  # cancelled while queued
        beating = asyncio.create_task(_beat(store, builder.id))
        try:
            answer = await context.services.runtime.converse(builder.plan.model.id, builder.plan.body)
        finally:
            beating.cancel()
        work.note_usage(Usage.from_converse(answer.get("usage")).counts())
        work.status = 200
        await store.advance(builder.whole(answer))
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
        work.finished_at = time.perf_counter()
        for settle in work.on_close:
            settle(work)
        context.usage(work)


async def _beat(store: ResponseStore, response_id: str) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_S)
        await store.beat(response_id)
