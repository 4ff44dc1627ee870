"""IIIF Presentation manifests in: each canvas becomes an artwork of an ordinary collection.

``manifest`` reads v2/v3 manifests and collections, ``fetch`` talks HTTP (and reads local
manifests without leaving their folder), ``image_api`` picks and checks the image at the
wanted size, ``collection`` writes the folder. Annotations out/in: ``core.interop.iiif``.
"""

from __future__ import annotations

from artannot.core.iiif.collection import IiifReport, import_iiif
from artannot.core.iiif.fetch import FetchOptions
from artannot.core.iiif.manifest import IiifError

__all__ = ["FetchOptions", "IiifError", "IiifReport", "import_iiif"]
