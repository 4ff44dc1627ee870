"""One worker pattern for all background work: indexing, thumbnails, detection, training, scoring.

A job is a plain function taking a :class:`JobControl` (report progress, ask whether to stop);
it runs on Qt's thread pool and reports back through signals on the GUI thread.  Long work
therefore lives in Qt-free core functions that accept ``progress``/``should_stop`` callables.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from shiboken6 import isValid


class JobControl:
    """Handed to the job function: progress reports and a cancellation flag."""

    def __init__(self, signals: JobSignals) -> None:
        self._signals = signals
        self._stop = threading.Event()

    def progress(self, done: int, total: int) -> None:
        _emit(self._signals.progress, int(done), int(total))

    def partial(self, value: Any) -> None:
        """Stream an intermediate result (e.g. one thumbnail) to the GUI."""
        _emit(self._signals.partial, value)

    def cancel(self) -> None:
        self._stop.set()

    def cancelled(self) -> bool:
        return self._stop.is_set()


def _emit(signal: Any, *args: Any) -> None:
    """Emit unless the receiving side is already gone (window closed, app quitting)."""
    try:
        signal.emit(*args)
    except RuntimeError:
        pass


class JobSignals(QObject):
    progress = Signal(int, int)
    partial = Signal(object)
    result = Signal(object)
    error = Signal(object)  # (exception, formatted traceback)
    finished = Signal()


class Job(QRunnable):
    """A cancellable background job; connect to ``signals`` before :func:`start_job`."""

    def __init__(self, fn: Callable[[JobControl], Any], name: str = "job") -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Python side owns it; signals outlive run()
        self.fn = fn
        self.name = name
        self.signals = JobSignals()
        self.control = JobControl(self.signals)
        self.done = threading.Event()

    def cancel(self) -> None:
        self.control.cancel()

    @property
    def cancelled(self) -> bool:
        return self.control.cancelled()

    def run(self) -> None:  # worker thread
        try:
            if self.control.cancelled():  # cancelled while queued: never starts
                return
            value = self.fn(self.control)
        except Exception as exc:  # report every failure to the GUI instead of losing it
            if not self.control.cancelled():
                _emit(self.signals.error, (exc, traceback.format_exc()))
        else:
            if not self.control.cancelled():  # a cancelled job never overwrites newer results
                _emit(self.signals.result, value)
        finally:
            self.done.set()
            _emit(self.signals.finished)


_live: set[Job] = set()


def running_jobs() -> list[Job]:
    """Jobs started and not yet finished (queued or running), e.g. to wait for at shutdown."""
    return [job for job in _live if not job.done.is_set()]


# Qt sizes the global pool by cores (2 on a curator's laptop): a warm-up loading a model and a
# thumbnail run would then hold every thread and an index refresh or a click's job would wait
# behind them. Most jobs wait on disk or release the GIL in numpy/torch, so a few more threads
# than cores keep the GUI responsive.
MIN_POOL_THREADS = 4


def start_job(job: Job, pool: QThreadPool | None = None) -> Job:
    """Run ``job`` on the (global) thread pool, keeping it alive until it finishes."""
    _live.add(job)
    job.signals.finished.connect(lambda: _live.discard(job))
    if pool is None:
        pool = QThreadPool.globalInstance()
        if pool.maxThreadCount() < MIN_POOL_THREADS:
            pool.setMaxThreadCount(MIN_POOL_THREADS)
    pool.start(job)
    return job


class LatestOnly(QObject):
    """Runs one job at a time per purpose; starting a new one cancels the previous.

    Used where results depend on the current selection (suggestions, search): a
    slow answer to an old question must never replace the answer to the new one.

    Created as a child of the widget the answers are for: once that widget is deleted
    (window closed) so is this object, and an answer still on its way is dropped instead of
    reaching deleted labels ("Internal C++ object already deleted").
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.current: Job | None = None

    def start(
        self,
        fn: Callable[[JobControl], Any],
        on_result: Callable[[Any], None],
        on_error: Callable[[Any], None] | None = None,
        name: str = "job",
        on_partial: Callable[[Any], None] | None = None,
    ) -> Job:
        """Start ``fn``; its answers (``partial`` ones too) reach the callbacks only while it is
        the latest job."""
        if self.current is not None:
            self.current.cancel()
        job = Job(fn, name)
        self.current = job

        def wanted(job: Job) -> bool:
            return isValid(self) and job is self.current and not job.cancelled

        def deliver(value: Any, job: Job = job) -> None:
            if wanted(job):
                on_result(value)

        def fail(err: Any, job: Job = job) -> None:
            if wanted(job) and on_error is not None:
                on_error(err)

        def part(value: Any, job: Job = job) -> None:
            if wanted(job) and on_partial is not None:
                on_partial(value)

        job.signals.result.connect(deliver)
        job.signals.error.connect(fail)
        job.signals.partial.connect(part)  # before the start: a fast job may answer at once
        return start_job(job)

    def cancel(self) -> None:
        if self.current is not None:
            self.current.cancel()
            self.current = None
