"""Loaded by a child of bench/loop_steps.py (this directory first on its PYTHONPATH): times every callback
its event loop runs and every garbage collection, between SIGUSR1 (start) and SIGUSR2 (write LOOP_PROBE_OUT).

A callback that resumes a task is named by the chain of coroutines it resumes, outermost first, then the
innermost DEPTH ones: the code that runs in that step. Time is the loop thread's CPU time
(time.thread_time_ns), so a step that waits for nothing costs what it computes."""

from __future__ import annotations

import asyncio.events
import collections
import gc
import json
import os
import signal
import time
from typing import Any

DEPTH = int(os.environ.get("LOOP_PROBE_DEPTH", "2"))
_cpu: collections.Counter[str] = collections.Counter()
_calls: collections.Counter[str] = collections.Counter()
_gc = {"ms": [0.0, 0.0, 0.0], "count": [0, 0, 0], "longest": [0.0, 0.0, 0.0], "started": 0.0}
_window = {"on": False, "cpu": 0}
_run = asyncio.events.Handle._run


def _chain(coro: Any) -> str:
    names: list[str] = []
    while coro is not None and len(names) < 16:
        names.append(getattr(coro, "__qualname__", type(coro).__name__))
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return " > ".join(names[:1] + names[1:][-DEPTH:]) if DEPTH else names[0] if names else "?"


def _name(handle: asyncio.events.Handle) -> str:
    callback = handle._callback
    owner = getattr(callback, "__self__", None)
    if owner is not None and hasattr(owner, "get_coro"):
        return "task: " + _chain(owner.get_coro())
    if owner is not None:
        return f"{type(owner).__name__}.{getattr(callback, '__name__', '?')}"
    return getattr(callback, "__qualname__", None) or type(callback).__name__


def _timed(self: asyncio.events.Handle) -> None:
    if not _window["on"]:
        return _run(self)
    name, start = _name(self), time.thread_time_ns()
    try:
        return _run(self)
    finally:
        _cpu[name] += time.thread_time_ns() - start
        _calls[name] += 1


def _collected(phase: str, info: dict[str, int]) -> None:
    if not _window["on"]:
        return
    if phase == "start":
        _gc["started"] = time.perf_counter()
        return
    generation, ms = info["generation"], (time.perf_counter() - float(_gc["started"])) * 1e3
    _gc["ms"][generation] += ms  # type: ignore[index]
    _gc["count"][generation] += 1  # type: ignore[index]
    _gc["longest"][generation] = max(_gc["longest"][generation], ms)  # type: ignore[index]


def _start(*_: Any) -> None:
    _cpu.clear()
    _calls.clear()
    _gc.update(ms=[0.0, 0.0, 0.0], count=[0, 0, 0], longest=[0.0, 0.0, 0.0])
    _window.update(on=True, cpu=time.thread_time_ns())


def _stop(*_: Any) -> None:
    _window["on"] = False
    report = {"loop_cpu_ns": time.thread_time_ns() - _window["cpu"],
              "steps": {name: [ns, _calls[name]] for name, ns in _cpu.items()},
              "gc": {k: v for k, v in _gc.items() if k != "started"}}
    with open(os.environ["LOOP_PROBE_OUT"], "w") as f:
        json.dump(report, f)


if os.environ.get("LOOP_PROBE_OUT"):
    asyncio.events.Handle._run = _timed  # type: ignore[method-assign]
    gc.callbacks.append(_collected)
    signal.signal(signal.SIGUSR1, _start)
    signal.signal(signal.SIGUSR2, _stop)
