"""Where a collection's models and caches are, and which SCAN model serves it.

A collection keeps its feature stores in ``<data_dir>/features/<model key>/``, its own SCAN
model in ``<data_dir>/scan/`` and the fragment search index in ``<data_dir>/search/``; the
bundled general model (``models/manifest.toml``) serves any collection that has none yet.
"""

from __future__ import annotations

from pathlib import Path

from artannot.core.errors import ArtannotError, ModelError
from artannot.retrieval.data import ScanDataError

SCAN_DIR = "scan"
SEARCH_DIR = "search"
# The bundled general model (models/manifest.toml): serves any collection with no training.
GENERAL_MODEL = "scan_general_flickr8k"


def feature_stores(data_dir: Path) -> list[Path]:
    """Feature stores of a collection, most recently written first."""
    root = Path(data_dir) / "features"
    stores = [p.parent for p in root.glob("*/index.sqlite")] if root.is_dir() else []
    return sorted(stores, key=lambda p: (p / "index.sqlite").stat().st_mtime, reverse=True)


def find_checkpoint(data_dir: Path) -> Path | None:
    """The collection's trained SCAN model: ``<data_dir>/scan/best.pt`` (else ``last.pt``)."""
    for name in ("best.pt", "last.pt"):
        p = Path(data_dir) / SCAN_DIR / name
        if p.is_file():
            return p
    return None


def general_checkpoint() -> tuple[Path | None, str]:
    """The bundled general model's checkpoint (hash-checked), or None and why not."""
    from artannot.models import ModelManager

    try:
        return ModelManager().path_for(GENERAL_MODEL), ""
    except ArtannotError as exc:
        return None, f"the bundled general model is unavailable: {exc}"


def file_key(path: Path) -> str:
    """Identity of a file version: a cache key that changes when the file does."""
    st = path.stat()
    return f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def single_store(data_dir: Path) -> Path:
    stores = feature_stores(data_dir)
    if len(stores) != 1:
        raise ScanDataError(f"found {len(stores)} feature stores; pick one with --features "
                            "(run `artannot detect` first)", Path(data_dir) / "features")
    return stores[0]


def resolve_init(init: Path | str | None, feature_dim: int, *, strict: bool = True
                 ) -> Path | None:
    """``"general"`` -> the bundled model's checkpoint; a path stays a path; None -> None.

    Not ``strict`` (the GUI's default), a general model that is missing or made for other
    region features means "start from scratch" instead of an error.
    """
    if init is None or str(init) == "scratch":
        return None
    if str(init) != "general":
        return Path(init)
    path, why = general_checkpoint()
    if path is None:
        if strict:
            raise ModelError(why)
        return None
    if not strict:
        from artannot.retrieval.checkpoint import load_checkpoint

        if load_checkpoint(path).model.feature_dim != feature_dim:
            return None
    return path


def scan_model_name(root: Path) -> str:
    """Model manager name for a collection's SCAN model."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in Path(root).resolve().name)
    return f"scan-{safe or 'collection'}"
