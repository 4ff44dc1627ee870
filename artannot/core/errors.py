"""One exception tree for the whole tool, with stable codes.

Codes let the GUI, the CLI and tests recognise an error without matching on prose.
"""

from __future__ import annotations

from pathlib import Path


class ArtannotError(Exception):
    """Base class: every error a user can meet carries a code and, where known, a path."""

    code = "E000"

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.message = message
        super().__init__(f"[{self.code}] {path}: {message}" if path is not None else f"[{self.code}] {message}")


class VocParseError(ArtannotError):
    """A Pascal VOC file could not be read; it is never overwritten while in this state."""

    code = "E101"


class VocConflictError(ArtannotError):
    """The file on disk changed since it was loaded; saving would lose someone's work."""

    code = "E102"


class MetadataError(ArtannotError):
    """A metadata sidecar (JSON/XML/Karpathy) is malformed."""

    code = "E201"


class ImageError(ArtannotError):
    """An image is missing, truncated, unreadable or too large."""

    code = "E301"


class CatalogError(ArtannotError):
    """The SQLite catalog cannot be opened or written."""

    code = "E401"


class JudgementsError(ArtannotError):
    """The curators' judgements store cannot be opened, migrated or written."""

    code = "E402"


class ModelError(ArtannotError):
    """A model file is missing, unknown or fails its hash check."""

    code = "E501"


class ClusterError(ArtannotError):
    """A compute cluster (Ray) is not installed, cannot be reached, or failed a job."""

    code = "E502"
