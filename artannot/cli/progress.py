"""Progress for long jobs: a tqdm bar usable as a ``progress(done, total)`` callback, and a
rate-limited status line (with :func:`format_eta`) for loops that report richer state."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from tqdm import tqdm


@contextmanager
def progress_bar(desc: str, unit: str = "it") -> Iterator[Callable[[int, int], None]]:
    bar = tqdm(desc=desc, unit=unit, dynamic_ncols=True, leave=True)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
            bar.refresh()
        # update() redraws at most every mininterval; refresh() on every item flooded logs
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()


def format_eta(seconds: float | None) -> str:
    """``M:SS`` or ``H:MM:SS``; ``?`` while there is no estimate yet (None, NaN, inf, < 0)."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "?"
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _stderr(text: str) -> None:
    click.echo(text, err=True, nl=False)


class StatusLine:
    """A progress line for a loop of many small steps, rate-limited so logs stay short.

    On a terminal the line is redrawn in place at most every ``tty_interval`` seconds. In a
    log (stderr not a terminal) ``\\r`` would pile up, so each update is a new line, written
    only when another ``step`` of the work is done or ``interval`` seconds have passed, and
    never two within ``min_gap`` seconds: an hour-long loop writes dozens of lines, not
    thousands. The last step (fraction 1) is always shown.
    """

    def __init__(self, write: Callable[[str], None] = _stderr, *, tty: bool | None = None,
                 clock: Callable[[], float] = time.monotonic, tty_interval: float = 0.2,
                 min_gap: float = 2.0, interval: float = 30.0, step: float = 0.1) -> None:
        self._write = write
        self.tty = _stderr_is_tty() if tty is None else tty
        self._clock = clock
        self._tty_interval, self._min_gap, self._interval, self._step = (
            tty_interval, min_gap, interval, step)
        self._last_time = -math.inf
        self._last_mark = 0  # how many ``step``s were done at the last line of this loop
        self._drawn = 0  # width of the line now on the terminal (0: none)
        self._pending: str | None = None  # the newest text not written yet

    def due(self, fraction: float, now: float) -> bool:
        """Whether an update at ``fraction`` (0..1) done, at time ``now``, is written."""
        if fraction >= 1:
            return True
        since = now - self._last_time
        if self.tty:
            return since >= self._tty_interval
        crossed = self._mark(fraction) > self._last_mark
        return since >= self._min_gap and (crossed or since >= self._interval)

    def update(self, text: str, fraction: float) -> None:
        now = self._clock()
        if not self.due(fraction, now):
            self._pending = text
            return
        self._show(text)
        self._last_time = now
        self._last_mark = self._mark(min(fraction, 1.0))

    def _mark(self, fraction: float) -> int:
        """Whole ``step``s done; the epsilon keeps 0.3 / 0.1 = 2.999... from missing a step."""
        return math.floor(fraction / self._step + 1e-9)

    def end(self) -> None:
        """Close the current loop: show what was held back, keep the line, start afresh."""
        if self._pending is not None:
            self._show(self._pending)
        if self._drawn:
            self._write("\n")
        self._drawn, self._last_mark = 0, 0

    def _show(self, text: str) -> None:
        self._pending = None
        if self.tty:
            self._write("\r" + text.ljust(self._drawn))
            self._drawn = max(len(text), 1)
        else:
            self._write(text + "\n")


def _stderr_is_tty() -> bool:
    try:  # sys.stderr, not click's stream: a test runner swaps sys.stderr
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced by an object without isatty
        return False
