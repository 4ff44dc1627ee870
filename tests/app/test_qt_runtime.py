"""Guards against a Qt binding that would crash a long annotation session.

PySide6 6.12.0 dropped a reference to ``True`` on every ``Signal.emit()``; on Python 3.11 the
interpreter then aborts ("bool_dealloc") after a few thousand signals, i.e. minutes of work.
pyproject.toml excludes that release; this test fails if such a binding comes back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    changed = Signal(float)


def test_signal_emit_keeps_reference_counts(qapp) -> None:  # noqa: ANN001
    emitter = _Emitter()
    received = []
    emitter.changed.connect(received.append)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for i in range(2000):
        emitter.changed.emit(i / 10)
    assert (sys.getrefcount(True), sys.getrefcount(False)) == before
    assert len(received) == 2000
