"""A tqdm progress bar usable as a ``progress(done, total)`` callback by any long job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
