"""A IIIF server on 127.0.0.1 for the tests: static manifests and level-0 image services built
from the sample images, plus routes that fail on purpose.

* ``/status/<code>/...`` answers HTTP ``<code>``;
* ``/hang/...`` accepts the request and never answers (until the server stops);
* everything else is a file under the server's folder.

Image services are static level-0 trees, as ``iiif-static`` or vips write them: ``info.json``
lists the sizes, ``full/<size>/0/default.jpg`` files hold them (v3 ``w,h`` and ``max``; v2
``w,`` and ``full``).
"""

from __future__ import annotations

import functools
import json
import math
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from tests.conftest import SAMPLE_COLLECTION

SAMPLES = SAMPLE_COLLECTION / "images"


class _Handler(SimpleHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        self.server.requests.append(path)
        if path.startswith("/hang/"):
            self.server.release.wait(60)
            self.close_connection = True
            return
        if path.startswith("/status/"):
            self.send_error(int(path.split("/")[2]))
            return
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[str]
    release: threading.Event


class IiifServer:
    """Serves ``root`` on 127.0.0.1 in a thread; ``url(path)`` gives absolute URLs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._server = _Server(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
        self._server.requests = []
        self._server.release = threading.Event()
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> IiifServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def requests(self) -> list[str]:
        return self._server.requests

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    # -- content ------------------------------------------------------------------------
    def write_json(self, rel: str, data: Any) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return self.url(rel)

    def image_service(self, sample: str, version: int = 3) -> str:
        """A static level-0 service for a sample image; returns its base URI."""
        rel = f"iiif{version}/{Path(sample).stem}"
        folder = self.root / rel
        src = SAMPLES / sample
        with Image.open(src) as im:
            width, height = im.size
            sizes = [(math.ceil(width / f), math.ceil(height / f)) for f in (4, 2)]
            for w, h in sizes:
                seg = f"{w},{h}" if version == 3 else f"{w},"
                out = folder / "full" / seg / "0" / "default.jpg"
                out.parent.mkdir(parents=True, exist_ok=True)
                im.resize((w, h), Image.Resampling.LANCZOS).save(out, quality=90)
        full = folder / "full" / ("max" if version == 3 else "full") / "0" / "default.jpg"
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(src.read_bytes())
        base = self.url(rel)
        info: dict[str, Any] = {
            "protocol": "http://iiif.io/api/image", "width": width, "height": height,
            "sizes": [{"width": w, "height": h} for w, h in sizes],
        }
        if version == 3:
            info.update({"@context": "http://iiif.io/api/image/3/context.json", "id": base,
                         "type": "ImageService3", "profile": "level0"})
        else:
            info.update({"@context": "http://iiif.io/api/image/2/context.json", "@id": base,
                         "profile": ["http://iiif.io/api/image/2/level0.json"]})
        (folder / "info.json").write_text(json.dumps(info), encoding="utf-8")
        return base

    def static_image(self, sample: str) -> str:
        out = self.root / "static" / sample
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes((SAMPLES / sample).read_bytes())
        return self.url(f"static/{sample}")


def v3_canvas(cid: str, width: int, height: int, label: Any = None, service: str | None = None,
              image: str | None = None, **extra: Any) -> dict[str, Any]:
    """A v3 canvas painted with one image (and its service), as museums publish them."""
    canvas: dict[str, Any] = {"id": cid, "type": "Canvas", "width": width, "height": height}
    if label is not None:
        canvas["label"] = label
    if service or image:
        body: dict[str, Any] = {"id": image or f"{service}/full/max/0/default.jpg", "type": "Image",
                                "format": "image/jpeg"}
        if service:
            body["service"] = [{"id": service, "type": "ImageService3", "profile": "level0"}]
        canvas["items"] = [{"id": f"{cid}/page", "type": "AnnotationPage", "items": [
            {"id": f"{cid}/page/1", "type": "Annotation", "motivation": "painting", "body": body, "target": cid}]}]
    canvas.update(extra)
    return canvas


def v3_manifest(mid: str, canvases: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"@context": "http://iiif.io/api/presentation/3/context.json", "id": mid, "type": "Manifest",
            "items": canvases, **extra}
