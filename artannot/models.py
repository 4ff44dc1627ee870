"""Model manager: which weight files artannot knows, which are installed, and are they intact.

artannot never downloads weights.  A user copies a file in with ``artannot models import``;
its sha256 is checked against ``models/manifest.toml`` (or recorded as a custom entry with
its provenance) before it lands in the user models folder; a Hugging Face model folder (a
CLIP model) comes in with ``artannot models import-dir``, every file's sha256 recorded.
Everything that loads weights
asks :meth:`ModelManager.path_for`, which re-checks the hash whenever the file changed on
disk, so a corrupted file is refused instead of producing silent garbage.

The user models folder is the ``models_dir`` argument, else ``$ARTANNOT_MODELS_DIR``, else
the ``models_dir`` setting (:mod:`artannot.core.config`), else
``platformdirs.user_data_dir("artannot")/models``.  It holds the
imported files plus ``registry.json``, a small index rewritten atomically.

Torch is not imported here: ``artannot models list`` must stay instant.

Why one long module (~750 lines): the manifest, the registry and the hash checks are one
trust boundary (what may be loaded); each function is small, and a split would spread the
rule "nothing unhashed is ever loaded" over several files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Literal

import platformdirs

from artannot.core.errors import ModelError
from artannot.core.safe_io import atomic_write

Role = Literal["detector", "backbone", "scan", "text", "clip"]
ROLES: tuple[str, ...] = ("detector", "backbone", "scan", "text", "clip")
ENV_MODELS_DIR = "ARTANNOT_MODELS_DIR"
DEFAULT_MANIFEST = Path(__file__).resolve().parent.parent / "models" / "manifest.toml"
REGISTRY_NAME = "registry.json"
_CHUNK = 1 << 20


# -- data ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """A weight file artannot knows about (from ``models/manifest.toml``)."""

    name: str
    role: str
    architecture: str
    filename: str
    sha256: str | None = None
    sha256_prefix: str | None = None
    size: int | None = None
    size_mb: float | None = None
    license: str = ""
    source: str = ""
    bundled: str | None = None
    description: str = ""
    # A model that is a folder (a Hugging Face model: config, weights, tokenizer): the sha256
    # of every file that matters, by path relative to the folder. ``filename`` is the folder.
    files: dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ModelError(f"manifest entry {self.name!r}: unknown role {self.role!r}")
        if not (self.sha256 or self.sha256_prefix or self.files):
            raise ModelError(f"manifest entry {self.name!r} has neither sha256 nor sha256_prefix")

    @property
    def is_folder(self) -> bool:
        return bool(self.files)

    @property
    def hash_is_prefix(self) -> bool:
        """True when only a prefix is known (torchvision file names): a weaker check."""
        return not self.sha256 and not self.files

    def matches(self, digest: str) -> bool:
        if self.files:
            return False  # a folder matches file by file (ModelManager.folder_for)
        if self.sha256:
            return digest.lower() == self.sha256.lower()
        return digest.lower().startswith(str(self.sha256_prefix).lower())


@dataclass(slots=True)
class InstalledRecord:
    """What the registry remembers about one imported or registered file."""

    name: str
    role: str
    architecture: str
    filename: str  # relative to the models folder
    sha256: str
    size: int
    provenance: str = ""
    imported_at: str = ""
    custom: bool = False
    # A folder model (``import_dir``): sha256 of every file, by path relative to the folder;
    # ``sha256`` is then :func:`folder_sha256` of these and ``size`` the total bytes.
    files: dict[str, str] | None = None


@dataclass(slots=True)
class ModelStatus:
    """One row of ``artannot models list``."""

    name: str
    role: str
    architecture: str
    known: bool  # listed in the manifest
    installed: bool
    bundled: bool
    path: Path | None
    hash_check: Literal["full", "prefix", "recorded"]
    description: str = ""
    license: str = ""
    source: str = ""


@dataclass(slots=True)
class VerifyResult:
    name: str
    ok: bool
    message: str
    path: Path | None = None


@dataclass(slots=True)
class _Stamp:
    size: int
    mtime_ns: int
    sha256: str
    inode: int = 0  # a file swapped in by rename keeps size and mtime but not its inode

    @classmethod
    def of(cls, st: os.stat_result, sha256: str) -> _Stamp:
        return cls(st.st_size, st.st_mtime_ns, sha256, st.st_ino)

    def fits(self, st: os.stat_result) -> bool:
        return (self.size, self.mtime_ns, self.inode) == (st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass(slots=True)
class _Registry:
    models: dict[str, InstalledRecord] = field(default_factory=dict)
    stamps: dict[str, _Stamp] = field(default_factory=dict)  # hash cache keyed by path


# -- helpers ------------------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    """Full sha256 of a file, streamed (checkpoints are hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def folder_sha256(files: dict[str, str]) -> str:
    """One digest for a folder model: the sha256 of its files' listing in ``sha256sum``'s
    format (``<hex>  <relative path>\\n`` per file, sorted by path as Python sorts strings).
    Recorded with features as the model's provenance; changes when any file changes."""
    listing = "".join(f"{files[rel].lower()}  {rel}\n" for rel in sorted(files))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def load_manifest(path: Path | None = None) -> list[ManifestEntry]:
    """Read the manifest; the default is the repository's ``models/manifest.toml``."""
    path = Path(path) if path is not None else DEFAULT_MANIFEST
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError("model manifest not found", path) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"model manifest is not valid TOML: {exc}", path) from exc
    entries = [ManifestEntry(**row) for row in data.get("model", [])]
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ModelError("model manifest lists a name twice", path)
    return entries


def _resolve_bundled(spec: str, *, folder: bool = False) -> Path | None:
    """``package:relative/path`` -> absolute path, without importing the package.

    The package ``models`` means this repository's ``models/`` folder (files shipped with
    artannot itself, such as the bundled general SCAN model).
    """
    package, _, rel = spec.partition(":")
    if package == "models":
        path = DEFAULT_MANIFEST.parent / rel
        return path if (path.is_dir() if folder else path.is_file()) else None
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / rel
    return path if (path.is_dir() if folder else path.is_file()) else None


def _remove(path: Path) -> None:
    """Delete an installed file or folder model (a replaced one); missing is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# -- folder models: what a CLIP folder must hold ---------------------------------------------
# Files of a Hugging Face folder that are copied (configs, tokenizer, safetensors weights,
# the model card); anything else (pickled or TF/Flax/ONNX weights, git files) is left out.
FOLDER_SUFFIXES = (".json", ".txt", ".safetensors", ".md")
PICKLED_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
CLIP_ARCHITECTURE = "clip"


@dataclass(frozen=True, slots=True)
class FolderPlan:
    """What :meth:`ModelManager.import_dir` would copy from a folder, and what it leaves out."""

    folder: Path
    files: tuple[str, ...]  # relative paths, sorted
    left_out: tuple[str, ...]
    model_type: str
    summary: str  # e.g. "CLIP ViT, image 224 px, patch 32, 512-d joint space"


def clip_folder_plan(folder: Path | str) -> FolderPlan:
    """Check that ``folder`` is a Hugging Face CLIP model artannot can load, without hashing.

    Needed: ``config.json`` with ``model_type`` "clip", safetensors weights
    (``model.safetensors`` or a sharded ``model.safetensors.index.json`` and its shards), a
    tokenizer (``tokenizer.json``, or ``vocab.json`` + ``merges.txt``) and
    ``preprocessor_config.json``. Pickled weights (``pytorch_model.bin``) are refused when
    they are the only weights (unpickling can run code) and left out otherwise.
    """
    src = Path(folder)
    if not src.is_dir():
        raise ModelError("no such folder", src)
    present = sorted(p.name for p in src.iterdir() if p.is_file() and not p.name.startswith("."))
    names = set(present)
    if "config.json" not in names:
        raise ModelError("not a CLIP model folder: config.json is missing (a Hugging Face "
                         "model folder has config.json, model.safetensors, the tokenizer and "
                         "preprocessor_config.json)", src)
    try:
        config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"config.json is unreadable: {exc}", src / "config.json") from exc
    model_type = str(config.get("model_type", "")) if isinstance(config, dict) else ""
    if model_type != "clip":
        raise ModelError(f"not a CLIP model folder: config.json says model_type "
                         f"{model_type or 'nothing'!r}, not 'clip'", src / "config.json")
    missing: list[str] = []
    weights: list[str] = []
    if "model.safetensors" in names:
        weights = ["model.safetensors"]
    elif "model.safetensors.index.json" in names:
        try:
            index = json.loads((src / "model.safetensors.index.json").read_text(encoding="utf-8"))
            weights = sorted(set(index["weight_map"].values()))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
                AttributeError) as exc:
            raise ModelError(f"model.safetensors.index.json is unreadable: {exc}", src) from exc
        missing += [w for w in weights if w not in names]
    else:
        pickled = [n for n in present if n.endswith(PICKLED_SUFFIXES)]
        if pickled:
            raise ModelError(
                f"the weights are pickled ({', '.join(pickled)}); artannot loads safetensors "
                "only, because unpickling a file can run code. Convert them where the model came "
                "from: CLIPModel.from_pretrained(folder).save_pretrained(folder, "
                "safe_serialization=True)", src)
        missing.append("model.safetensors")
    lacking = [f for f in ("vocab.json", "merges.txt") if f not in names]
    if "tokenizer.json" not in names and lacking:
        missing.append(" and ".join(lacking) + " (or tokenizer.json)")
    if "preprocessor_config.json" not in names:
        missing.append("preprocessor_config.json")
    if missing:
        raise ModelError(f"CLIP model folder is incomplete: missing {', '.join(missing)}", src)
    keep = sorted({n for n in present if n.endswith(FOLDER_SUFFIXES)} | set(weights))
    left = sorted((set(present) - set(keep))
                  | {p.name + "/" for p in src.iterdir() if p.is_dir() and not p.name.startswith(".")})
    vision = config.get("vision_config") or {}
    summary = (f"CLIP ViT, image {vision.get('image_size', '?')} px, patch "
               f"{vision.get('patch_size', '?')}, {config.get('projection_dim', '?')}-d joint space")
    return FolderPlan(src, tuple(keep), tuple(left), model_type, summary)


def offline_transformers() -> ModuleType:
    """``transformers``, set up for the folders the manager hands out: never a hub request,
    and no progress bar of its own on the curator's terminal (loading a 90 MB text model
    printed one on every ``artannot suggest``)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: never reach a hub
    import transformers

    transformers.utils.logging.disable_progress_bar()
    return transformers


# -- the manager --------------------------------------------------------------------------
def _configured_models_dir() -> str:
    """The ``models_dir`` setting ("" when unset, or when the settings file is broken: the
    app and the CLI report that elsewhere; the model manager must keep working)."""
    from artannot.core.config import ConfigError, load_config

    try:
        return load_config().models_dir.strip()
    except ConfigError:
        return ""


class ModelManager:
    """Registry of known and installed weight files (no network, ever)."""

    def __init__(
        self,
        models_dir: Path | str | None = None,
        manifest: Path | str | Iterable[ManifestEntry] | None = None,
    ) -> None:
        if models_dir is None:
            models_dir = (os.environ.get(ENV_MODELS_DIR) or _configured_models_dir()
                          or Path(platformdirs.user_data_dir("artannot")) / "models")
        self.models_dir = Path(models_dir).expanduser()
        if manifest is None or isinstance(manifest, (str, Path)):
            entries = load_manifest(Path(manifest) if manifest is not None else None)
        else:
            entries = list(manifest)
        self.manifest: dict[str, ManifestEntry] = {e.name: e for e in entries}

    # -- registry persistence ------------------------------------------------------------
    @property
    def registry_path(self) -> Path:
        return self.models_dir / REGISTRY_NAME

    def _load(self) -> _Registry:
        try:
            raw = json.loads(self.registry_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _Registry()
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"model registry is unreadable: {exc}", self.registry_path) from exc
        return _Registry(
            models={k: InstalledRecord(**v) for k, v in raw.get("models", {}).items()},
            stamps={k: _Stamp(**v) for k, v in raw.get("stamps", {}).items()},
        )

    def _save(self, reg: _Registry) -> None:
        data = {
            "version": 1,
            "models": {k: asdict(v) for k, v in sorted(reg.models.items())},
            "stamps": {k: asdict(v) for k, v in sorted(reg.stamps.items())},
        }
        atomic_write(self.registry_path, json.dumps(data, indent=2).encode("utf-8"), backup=False)

    # -- hashing with a cache: re-hash only when size or mtime changed ---------------------
    def _digest(self, path: Path, reg: _Registry) -> tuple[str, bool]:
        st = path.stat()
        key = str(path.resolve())
        cached = reg.stamps.get(key)
        if cached and cached.fits(st):
            return cached.sha256, False
        digest = sha256_file(path)
        reg.stamps[key] = _Stamp.of(st, digest)
        return digest, True

    # -- queries ---------------------------------------------------------------------------
    def entry(self, name: str) -> ManifestEntry | None:
        return self.manifest.get(name)

    def _location(self, name: str, reg: _Registry) -> tuple[Path | None, bool]:
        """Where the file for ``name`` is (imported copy first, then the bundled one)."""
        entry = self.manifest.get(name)
        folder = self._folder_files(name, reg) is not None
        rec = reg.models.get(name)
        if rec is not None:
            p = self.models_dir / rec.filename
            if p.is_dir() if folder else p.is_file():
                return p, False
        if entry is not None and entry.bundled:
            p = _resolve_bundled(entry.bundled, folder=folder)
            if p is not None:
                return p, True
        return None, False

    def list(self) -> list[ModelStatus]:
        """Known (manifest) entries first, then custom ones; installed or not."""
        reg = self._load()
        rows: list[ModelStatus] = []
        for e in self.manifest.values():
            path, bundled = self._location(e.name, reg)
            rows.append(ModelStatus(
                e.name, e.role, e.architecture, True, path is not None, bundled, path,
                "prefix" if e.hash_is_prefix else "full", e.description, e.license, e.source,
            ))
        for rec in reg.models.values():
            if rec.name in self.manifest:
                continue
            path, _ = self._location(rec.name, reg)
            kind = f"custom folder model ({len(rec.files)} files)" if rec.files else "custom model"
            rows.append(ModelStatus(
                rec.name, rec.role, rec.architecture, False, path is not None, False, path,
                "recorded", kind, "", rec.provenance,
            ))
        return rows

    def installed(self, role: str | None = None) -> list[ModelStatus]:
        return [s for s in self.list() if s.installed and (role is None or s.role == role)]

    def path_for(self, name: str) -> Path:
        """Path of an installed model, after checking its hash (cached by size + mtime)."""
        reg = self._load()
        path, _ = self._location(name, reg)
        if path is None:
            if name in self.manifest or name in reg.models:
                raise ModelError(
                    f"model {name!r} is known but not installed; import its file with "
                    f"`artannot models import FILE` ({self._source_hint(name)})"
                )
            raise ModelError(f"unknown model {name!r}; see `artannot models list`")
        files = self._folder_files(name, reg)
        if files is not None:
            changed = self._check_folder(name, files, path, reg, use_cache=True)
        else:
            digest, changed = self._digest(path, reg)
            self._check(name, digest, reg, path)
        if changed:
            self._save_quietly(reg)
        return path

    def _folder_files(self, name: str, reg: _Registry) -> dict[str, str] | None:
        """``{relative path: sha256}`` of a folder model (manifest or imported), else None."""
        entry = self.manifest.get(name)
        if entry is not None:
            return dict(entry.files) if entry.files else None
        rec = reg.models.get(name)
        return dict(rec.files) if rec is not None and rec.files else None

    def _check_folder(self, name: str, files: dict[str, str], folder: Path, reg: _Registry, *,
                      use_cache: bool) -> bool:
        """Check every listed file of a folder model; True when the hash cache changed."""
        changed = False
        for rel, expected in sorted(files.items()):
            f = folder / rel
            if not f.is_file():
                raise ModelError(
                    f"model {name!r} is incomplete: {rel} is missing. Reinstall it "
                    f"({self._source_hint(name)}) or run `artannot models verify`", f)
            if use_cache:
                digest, fresh = self._digest(f, reg)
                changed |= fresh
            else:
                digest = sha256_file(f)
                st = f.stat()
                reg.stamps[str(f.resolve())] = _Stamp.of(st, digest)
                changed = True
            if digest.lower() != expected.lower():
                raise ModelError(
                    f"sha256 mismatch for {rel} of model {name!r}: file has {digest}, "
                    f"expected {expected}. The file is corrupted or was replaced; it is refused. "
                    f"Reinstall it ({self._source_hint(name)}).", f)
        return changed

    def sha256_for(self, name: str) -> str:
        """Full sha256 of the installed file (recorded with features as provenance); of a
        folder model, :func:`folder_sha256` of its checked files."""
        path = self.path_for(name)
        reg = self._load()
        files = self._folder_files(name, reg)
        if files is not None:
            return folder_sha256(files)
        return self._digest(path, reg)[0]

    def describe(self, name: str) -> tuple[str, str]:
        """``(role, architecture)`` of a known or custom model."""
        if name in self.manifest:
            e = self.manifest[name]
            return e.role, e.architecture
        rec = self._load().models.get(name)
        if rec is None:
            raise ModelError(f"unknown model {name!r}; see `artannot models list`")
        return rec.role, rec.architecture

    # -- checks ----------------------------------------------------------------------------
    def _source_hint(self, name: str) -> str:
        e = self.manifest.get(name)
        if e is not None:
            return f"obtain it from: {e.source}" if e.source else "no known source"
        try:
            rec = self._load().models.get(name)
        except ModelError:
            rec = None
        if rec is not None and rec.files:
            return f"re-import the folder with `artannot models import-dir`; recorded: {rec.provenance}"
        return f"recorded: {rec.provenance}" if rec is not None and rec.provenance else "no known source"

    def _check(self, name: str, digest: str, reg: _Registry, path: Path) -> None:
        entry = self.manifest.get(name)
        rec = reg.models.get(name)
        if entry is not None:
            if not entry.matches(digest):
                expected = entry.sha256 or f"{entry.sha256_prefix}… (prefix)"
                raise ModelError(
                    f"sha256 mismatch for {name!r}: file has {digest}, expected {expected}. "
                    "The file is corrupted or is not the expected checkpoint; it is refused.",
                    path,
                )
            # A prefix says little: the full hash recorded when the file was imported must
            # still hold, or a file swapped in later with the same prefix would pass.
            imported = rec is not None and (self.models_dir / rec.filename) == path
            if entry.hash_is_prefix and imported and rec.sha256 and rec.sha256 != digest:
                raise ModelError(
                    f"sha256 of {name!r} changed since it was imported: file has {digest}, "
                    f"recorded {rec.sha256}. It is refused; import the file again "
                    "(`artannot models import FILE`) if the change is yours.", path)
            return
        if rec is not None and rec.sha256 != digest:
            raise ModelError(
                f"sha256 mismatch for custom model {name!r}: file has {digest}, recorded "
                f"{rec.sha256} at import. The file changed or is corrupted; it is refused.",
                path,
            )

    def _save_quietly(self, reg: _Registry) -> None:
        # Only the hash cache changed: a read-only models folder must not break loading.
        try:
            self._save(reg)
        except OSError:
            pass

    def verify(self, names: Iterable[str] | None = None) -> list[VerifyResult]:
        """Re-hash every installed file (ignoring the cache) against manifest or record."""
        reg = self._load()
        wanted = set(names) if names is not None else None
        results: list[VerifyResult] = []
        for status in self.list():
            if not status.installed or (wanted is not None and status.name not in wanted):
                continue
            assert status.path is not None
            files = self._folder_files(status.name, reg)
            if files is not None:
                check = "recorded sha256" if status.hash_check == "recorded" else "sha256"
                try:
                    self._check_folder(status.name, files, status.path, reg, use_cache=False)
                except ModelError as exc:
                    results.append(VerifyResult(status.name, False, exc.message, status.path))
                except OSError as exc:
                    results.append(VerifyResult(status.name, False, f"unreadable: {exc}", status.path))
                else:
                    results.append(VerifyResult(
                        status.name, True, f"{check} ok ({len(files)} files)", status.path))
                continue
            try:
                digest = sha256_file(status.path)
                st = status.path.stat()
                reg.stamps[str(status.path.resolve())] = _Stamp.of(st, digest)
                self._check(status.name, digest, reg, status.path)
            except ModelError as exc:
                results.append(VerifyResult(status.name, False, exc.message, status.path))
            except OSError as exc:
                results.append(VerifyResult(status.name, False, f"unreadable: {exc}", status.path))
            else:
                kind = {"prefix": "sha256 prefix", "full": "sha256", "recorded": "recorded sha256"}
                results.append(VerifyResult(
                    status.name, True, f"{kind[status.hash_check]} ok", status.path))
        if wanted:
            for missing in sorted(wanted - {r.name for r in results}):
                results.append(VerifyResult(missing, False, "not installed"))
        self._save_quietly(reg)
        return results

    # -- changes ---------------------------------------------------------------------------
    def _match_manifest(self, digest: str, filename: str) -> ManifestEntry | None:
        for e in self.manifest.values():
            if e.matches(digest):
                return e
        for e in self.manifest.values():
            if e.filename == filename:
                expected = e.sha256 or f"{e.sha256_prefix}… (prefix)"
                raise ModelError(
                    f"file is named like {e.name!r} but its sha256 {digest} does not match "
                    f"the expected {expected}; it is corrupted or a different file and was refused",
                    filename,
                )
        return None

    def import_file(
        self,
        path: Path | str,
        name: str | None = None,
        role: str | None = None,
        architecture: str | None = None,
        provenance: str | None = None,
    ) -> ModelStatus:
        """Copy a weight file into the models folder after checking its hash.

        A file matching a manifest entry (by hash, or by ``name``) is installed under that
        entry; anything else becomes a custom entry and then needs ``role`` and
        ``architecture`` so the rest of the tool knows how to build a model for it.
        """
        src = Path(path)
        if not src.is_file():
            raise ModelError("no such file", src)
        digest = sha256_file(src)
        if name is not None and name in self.manifest:
            entry = self.manifest[name]
            if not entry.matches(digest):
                expected = entry.sha256 or f"{entry.sha256_prefix}… (prefix)"
                raise ModelError(
                    f"sha256 of this file is {digest}, but {name!r} expects {expected}: "
                    "the file is corrupted or is not that checkpoint; it was not imported",
                    src,
                )
        else:
            entry = self._match_manifest(digest, src.name) if name is None else None
        if entry is not None:
            if entry.size is not None and src.stat().st_size != entry.size:
                raise ModelError(f"size {src.stat().st_size} differs from expected {entry.size}", src)
            record = InstalledRecord(
                entry.name, entry.role, entry.architecture, entry.filename, digest,
                src.stat().st_size, provenance or f"imported from {src.resolve()}",
            )
        else:
            if role is None or architecture is None:
                raise ModelError(
                    f"file (sha256 {digest[:12]}…) matches no known model; to record it as a "
                    "custom model give --name, --role and --architecture",
                    src,
                )
            record = self._custom_record(src, name or src.stem, role, architecture, digest,
                                         provenance or f"imported from {src.resolve()}")
        return self._install(src, record, digest)

    def register(
        self,
        path: Path | str,
        name: str,
        role: str,
        architecture: str,
        provenance: str,
    ) -> ModelStatus:
        """Record a file artannot produced itself (e.g. a trained SCAN checkpoint).

        The file is copied into the models folder unless it already lives there; a name
        registered before is replaced (retraining), a manifest name is refused.
        """
        src = Path(path)
        if not src.is_file():
            raise ModelError("no such file", src)
        if name in self.manifest:
            raise ModelError(f"{name!r} is a manifest name; choose another name for your model")
        digest = sha256_file(src)
        record = self._custom_record(src, name, role, architecture, digest, provenance)
        return self._install(src, record, digest)

    def import_dir(self, folder: Path | str, name: str | None = None,
                   provenance: str | None = None) -> ModelStatus:
        """Copy a Hugging Face CLIP model folder into the models folder as a custom folder
        model (role "clip", architecture "clip"), the sha256 of every file recorded.

        Atomic: the files are copied into a hidden temporary folder, each copy is re-hashed
        against its source, and only then is the folder renamed into place and registered.
        Folders that are not CLIP (see :func:`clip_folder_plan`) and names already in use
        (manifest or installed) are refused.
        """
        plan = clip_folder_plan(folder)
        src = plan.folder
        name = name if name is not None else src.resolve().name
        if not name or "/" in name or "\\" in name or name.startswith(".") or name != name.strip():
            raise ModelError(f"invalid model name {name!r}; give one with --name")
        if name in self.manifest or name in self._load().models:
            raise ModelError(f"a model named {name!r} already exists (see `artannot models list`); "
                             "choose another name with --name")
        files = {rel: sha256_file(src / rel) for rel in plan.files}
        tree = folder_sha256(files)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        dst = self.models_dir / f"{name}-{tree[:8]}"
        tmp = Path(tempfile.mkdtemp(dir=self.models_dir, prefix=f".{dst.name}.", suffix=".part"))
        try:
            for rel in plan.files:
                shutil.copyfile(src / rel, tmp / rel)  # follows links (a hub cache's blobs)
            try:  # the source changed while we read it, or a disk error
                self._check_folder(name, files, tmp, _Registry(), use_cache=False)
            except ModelError as exc:
                raise ModelError(f"the copy does not match the source; nothing was imported "
                                 f"({exc.message})", src) from exc
            reg = self._load()
            if name in reg.models:  # imported concurrently
                raise ModelError(f"a model named {name!r} already exists", src)
            _remove(dst)  # a leftover of an import that died before registering
            os.replace(tmp, dst)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        size = 0
        for rel, digest in files.items():
            st = (dst / rel).stat()
            size += st.st_size
            reg.stamps[str((dst / rel).resolve())] = _Stamp.of(st, digest)
        reg.models[name] = InstalledRecord(
            name, "clip", CLIP_ARCHITECTURE, dst.name, tree, size,
            provenance or f"imported from {src.resolve()} ({plan.summary})",
            datetime.now(UTC).isoformat(timespec="seconds"), custom=True, files=files)
        self._save(reg)
        return next(s for s in self.list() if s.name == name)

    def _custom_record(
        self, src: Path, name: str, role: str, architecture: str, digest: str, provenance: str
    ) -> InstalledRecord:
        if role not in ROLES:
            raise ModelError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        if role == "clip":
            raise ModelError("a CLIP model is a folder (config, weights, tokenizer): import it "
                             "with `artannot models import-dir FOLDER`", src)
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ModelError(f"invalid model name {name!r}")
        suffix = "".join(src.suffixes[-1:]) or ".pt"
        return InstalledRecord(
            name, role, architecture, f"{name}-{digest[:8]}{suffix}", digest,
            src.stat().st_size, provenance, custom=True,
        )

    def _install(self, src: Path, record: InstalledRecord, digest: str) -> ModelStatus:
        self.models_dir.mkdir(parents=True, exist_ok=True)
        dst = self.models_dir / record.filename
        if src.resolve() != dst.resolve():
            fd, tmp = tempfile.mkstemp(dir=self.models_dir, prefix=f".{dst.name}.", suffix=".part")
            os.close(fd)
            try:
                shutil.copyfile(src, tmp)
                copied = sha256_file(Path(tmp))
                if copied != digest:  # the source changed while we read it, or a disk error
                    raise ModelError("copy does not match the source hash; nothing was imported", src)
                os.replace(tmp, dst)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        record.imported_at = datetime.now(UTC).isoformat(timespec="seconds")
        reg = self._load()
        old = reg.models.get(record.name)
        if old is not None and old.filename != record.filename:
            _remove(self.models_dir / old.filename)
        reg.models[record.name] = record
        st = dst.stat()
        reg.stamps[str(dst.resolve())] = _Stamp.of(st, digest)
        self._save(reg)
        return next(s for s in self.list() if s.name == record.name)
