"""Each handler's session, from the first moment the page shows: opened by the handler itself when the page's
load handler has not run yet, so no control waits for it or fails for want of it."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import gradio as gr

from quarry.ui._toolbox import Session, Toolbox, browser_id_for, user_id

__all__ = ["Sessions", "open_session"]


async def open_session(
    toolbox: Toolbox, browser_id: str | None, request: gr.Request, failures: list[Exception] | None = None
) -> Session:
    """A session for this request's user, with their stored settings when the API gives them (else the defaults,
    and the failure is added to `failures` for a caller that reports it)."""
    scope = getattr(getattr(request, "request", None), "scope", None)
    browser_id = browser_id or browser_id_for(getattr(request, "session_hash", None))
    session = Session(
        user=user_id(request.username, browser_id),
        api_url=toolbox.home_url(scope),
        model=toolbox.config.default_model,
        signed_in=request.username,
    )
    try:
        stored = await toolbox.client(session).user_settings()
    except Exception as exc:  # the defaults serve; the call the user asked for says what is wrong
        if failures is not None:
            failures.append(exc)
        return session
    session.model = stored.get("default_model") or session.model
    session.presets = stored.get("presets") or {}
    return session


class Sessions:
    """The page's session (server-side State) and the browser's id (its localStorage), as every handler gets them.

    `bind(handler)` is what a tab registers: it takes these two inputs first, and calls `handler(session, *rest)`
    with the session the load handler opened, or one it opens itself when that has not happened yet.
    """

    def __init__(self, toolbox: Toolbox, state: gr.State, browser: gr.BrowserState) -> None:
        self.toolbox = toolbox
        self.state = state
        self.browser = browser

    @property
    def inputs(self) -> list[Any]:
        return [self.state, self.browser]

    async def get(self, value: Session | None, browser_id: str | None, request: gr.Request) -> Session:
        return value if value is not None else await open_session(self.toolbox, browser_id, request)

    def bind(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """`handler(session, *inputs)` as a Gradio handler of `[*self.inputs, *inputs]`."""
        # Gradio finds its Request by the annotation of a leading positional parameter, and streams a handler
        # that is an async generator: each wrapper keeps both visible (so no functools.wraps, which would show
        # the handler's own signature instead).
        if inspect.isasyncgenfunction(handler):

            async def streaming(
                request: gr.Request, value: Session | None, browser_id: str | None, *rest: Any
            ) -> AsyncIterator[Any]:
                session = await self.get(value, browser_id, request)
                async for update in handler(session, *rest):
                    yield update

            wrapper: Callable[..., Any] = streaming
        else:

            async def single(request: gr.Request, value: Session | None, browser_id: str | None, *rest: Any) -> Any:
                return await handler(await self.get(value, browser_id, request), *rest)

            wrapper = single
        wrapper.__name__ = wrapper.__qualname__ = handler.__name__  # Gradio's API names its endpoints by these
        return wrapper
