"""The frameworks' standard suites (langchain-tests) are written for pytest-asyncio's auto
mode: their ``async def`` tests carry no marker. The rest of ltm's suite runs in strict mode,
so here, and only here, every coroutine test gets the ``asyncio`` marker as it is collected
(the suites' classes stay unmodified)."""

from __future__ import annotations

import inspect
from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(collector: Any, name: str, obj: object
                              ) -> Generator[None, Any, None]:
    # trylast: innermost wrapper, so the marker is there before pytest-asyncio's wrapper
    # turns marked coroutine functions into its own items
    outcome = yield
    result = outcome.get_result()
    items = result if isinstance(result, list) else [result] if result is not None else []
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.add_marker(pytest.mark.asyncio)
