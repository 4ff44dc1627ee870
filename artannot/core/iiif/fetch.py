"""Reading IIIF resources: HTTP(S) politely, local manifests without leaving their folder.

Only servers the user points artannot at are contacted (the manifest's and the image
services it names). Every request has a timeout; 5xx answers, 429, timeouts and dropped
connections are retried with exponential back-off; any other 4xx fails at once. Errors are
:class:`IiifError` naming the URL and saying what happened, in one line.

A local manifest may name files beside it (relative paths or ``file:`` URIs), never outside
its folder (``../``); a manifest read from the web may name only ``http(s)`` resources.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from artannot import __version__
from artannot.core.iiif.manifest import IiifError
from artannot.core.safe_json import parse_untrusted_json

USER_AGENT = f"artannot/{__version__} (IIIF import)"
MAX_JSON_BYTES = 50 * 1024 * 1024
MAX_IMAGE_BYTES = 500 * 1024 * 1024
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(slots=True)
class FetchOptions:
    timeout: float = 30.0  # seconds per request (connect and each read)
    retries: int = 3  # further attempts after a 5xx/429/timeout/dropped connection
    backoff: float = 1.0  # seconds before the first retry; doubled for each further one
    workers: int = 4  # downloads at once: museums' servers are shared


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to http(s) only (urllib also allows ftp)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(newurl, code, f"redirect to a non-HTTP URL {newurl!r}", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def is_web(uri: str) -> bool:
    return urlsplit(uri).scheme in ("http", "https")


class Fetcher:
    """Reads resources for one import; ``root`` is the folder a local manifest may read from
    (``None``: the manifest came from the web, so no local file may be read)."""

    def __init__(self, options: FetchOptions | None = None, root: Path | None = None) -> None:
        self.options = options or FetchOptions()
        self.root = root.resolve() if root is not None else None

    # -- locations -------------------------------------------------------------------
    def resolve(self, ref: str, base: str) -> str:
        """``ref`` (absolute or relative) as an absolute URI, checked against the rules above."""
        uri = urljoin(base, ref.strip())
        scheme = urlsplit(uri).scheme
        if scheme in ("http", "https"):
            return uri
        if scheme == "file" and self.root is not None:
            self.local_path(uri)  # raises when outside the manifest's folder
            return uri
        if scheme == "file":
            raise IiifError(f"a manifest from the web may not name local files: {ref!r}", base)
        raise IiifError(f"unsupported reference {ref!r} (only http(s) and files beside the manifest)", base)

    def local_path(self, uri: str) -> Path:
        if self.root is None:
            raise IiifError("local files are not allowed here", uri)
        path = Path(unquote(urlsplit(uri).path)).resolve()
        if not path.is_relative_to(self.root):
            raise IiifError(f"refusing a reference outside the manifest's folder {self.root}", uri)
        return path

    # -- reading ---------------------------------------------------------------------
    def get_bytes(self, uri: str, *, limit: int = MAX_IMAGE_BYTES) -> bytes:
        if urlsplit(uri).scheme == "file":
            path = self.local_path(uri)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise IiifError(f"cannot read: {exc.strerror or exc}", path) from exc
            if len(data) > limit:
                raise IiifError(f"file is larger than {limit} bytes", path)
            return data
        if not is_web(uri):
            raise IiifError("only http(s) URLs can be fetched", uri)
        opts = self.options
        attempt = 0
        while True:
            try:
                return self._http_get(uri, limit)
            except _Retryable as exc:
                if attempt >= opts.retries:
                    tries = f" (after {attempt + 1} attempts)" if attempt else ""
                    raise IiifError(f"{exc}{tries}", uri) from None
                time.sleep(min(exc.retry_after or opts.backoff * 2**attempt, 60.0))
                attempt += 1

    def _http_get(self, uri: str, limit: int) -> bytes:
        request = urllib.request.Request(uri, headers={"User-Agent": USER_AGENT})
        timeout = self.options.timeout
        try:
            with _OPENER.open(request, timeout=timeout) as resp:
                data = resp.read(limit + 1)
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}".strip()
            if exc.code in RETRY_STATUS:
                retry_after = exc.headers.get("Retry-After", "") if exc.headers else ""
                raise _Retryable(reason, float(retry_after) if retry_after.isdigit() else None) from None
            raise IiifError(reason, uri) from None
        except (TimeoutError, socket.timeout):
            raise _Retryable(f"no answer within {timeout:g} s (timed out)") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise _Retryable(f"no answer within {timeout:g} s (timed out)") from None
            raise _Retryable(f"cannot connect: {exc.reason}") from None
        except (ConnectionError, OSError) as exc:  # reset, refused, half-closed response
            raise _Retryable(f"connection failed: {exc}") from None
        if len(data) > limit:
            raise IiifError(f"response is larger than {limit} bytes", uri)
        return data

    def get_json(self, uri: str) -> Any:
        """JSON from ``uri``, read as untrusted (depth, NaN, huge numbers refused)."""
        return parse_untrusted_json(self.get_bytes(uri, limit=MAX_JSON_BYTES), uri, error=IiifError)


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def start(source: str | Path, options: FetchOptions | None = None) -> tuple[Fetcher, str]:
    """A fetcher for an import and the absolute URI of its manifest (URL or local file)."""
    text = str(source)
    if is_web(text):
        return Fetcher(options), text
    if urlsplit(text).scheme not in ("", "file") and not Path(text).exists():
        raise IiifError("expected an http(s) URL or a manifest file", text)
    path = Path(unquote(urlsplit(text).path) if text.startswith("file:") else text).expanduser()
    if not path.is_file():
        raise IiifError("no such manifest file", path)
    path = path.resolve()
    return Fetcher(options, root=path.parent), path.as_uri()
