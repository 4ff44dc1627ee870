"""Untrusted JSON (metadata sidecars, caption files, files to import): one reader that never crashes.

``json.loads`` raises more than ``JSONDecodeError`` on hostile input: ``RecursionError`` for
deeply nested arrays, ``ValueError`` for integers over Python's digit limit, and it accepts
``NaN``/``Infinity``.  Every reader of a file someone else wrote goes through here, so each of
those becomes one error naming the file; code walking the result recursively is safe because
nesting deeper than :data:`MAX_DEPTH` is refused too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from artannot.core.errors import ArtannotError, MetadataError

MAX_DEPTH = 100  # museum records and annotation files nest a handful of levels


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` (iterative: no recursion to blow up)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def parse_untrusted_json(data: bytes, path: Path | str, *, error: type[ArtannotError] = MetadataError) -> Any:
    """The value in ``data`` (UTF-8, BOM tolerated); any problem raises ``error(message, path)``."""
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text: {exc}", path) from exc
    except json.JSONDecodeError as exc:
        raise error(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", path) from exc
    except RecursionError:
        raise error(f"malformed JSON: nested more than {MAX_DEPTH} levels deep", path) from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise error(f"malformed JSON: {exc}", path) from None
    if _depth_exceeds(value, MAX_DEPTH):
        raise error(f"malformed JSON: nested more than {MAX_DEPTH} levels deep", path)
    return value


def read_untrusted_json(path: Path | str, *, error: type[ArtannotError] = MetadataError) -> Any:
    """:func:`parse_untrusted_json` of a file; an unreadable file raises ``error`` too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror or exc}", path) from exc
    return parse_untrusted_json(data, path, error=error)
