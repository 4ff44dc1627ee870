"""``artannot detect PATH``: regions and features for a collection, resumable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from artannot.core.errors import ArtannotError


def run_detect(
    path: Path,
    *,
    detector: str = "proposals",
    backbone: str = "efficientnet_lite0",
    device: str | None = None,
    batch_size: int = 2,
    k: int = 36,
    min_size: int = 600,
    max_size: int = 1000,
    progress=None,
    should_stop=None,
    ray: str | None = None,
    on_plan=None,
):
    """Plain function behind the command: returns ``(store_dir, RunReport)``.

    ``ray`` (``auto`` or a cluster address) runs the same models as a Ray Data job; the models
    are then loaded here on the CPU only to name the store and check its identity."""
    from artannot.core.catalog import Catalog
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.pipeline import load_pipeline
    from artannot.vision.runner import detect_collection, run_identity

    if ray is not None:
        from artannot.vision.ray_detect import import_ray

        import_ray()  # a missing extra is reported before minutes of model loading
    pipe = load_pipeline(detector, backbone, device="cpu" if ray is not None else device, k=k,
                         min_size=min_size, max_size=max_size)
    det, ext = pipe.detector, pipe.extractor
    with Catalog.open(path) as cat:
        items = [(a.id, a.image_path) for a in cat.artworks()]
        store_dir = pipe.store_dir(cat.data_dir)
    with FeatureStore(store_dir, dim=ext.dim) as store:
        if ray is not None:
            from artannot.vision.ray_detect import detect_on_ray

            report = detect_on_ray(items, store, run_identity(det, ext), address=ray,
                                   device=device, batch_size=batch_size, progress=progress,
                                   should_stop=should_stop, on_plan=on_plan)
        else:
            report = detect_collection(items, store, det, ext, batch_size=batch_size,
                                       progress=progress, should_stop=should_stop)
    return store_dir, report


def run_whole_images(path: Path, *, device: str | None = None, batch_size: int = 2,
                     progress=None, should_stop=None, ray: str | None = None, on_plan=None):
    """Whole-image vectors (:mod:`artannot.vision.global_features`) of every artwork, into
    their own store: returns ``(store_dir, RunReport)``. Resumable like detection; with
    ``ray`` a Ray Data job computes them (the nets are loaded here only to name the store)."""
    from artannot.core.catalog import Catalog
    from artannot.vision.device import select_device
    from artannot.vision.feature_store import FeatureStore
    from artannot.vision.global_features import load_global_encoder
    from artannot.vision.runner import encode_into_collection

    encoder = load_global_encoder(device="cpu" if ray is not None else select_device(device))
    with Catalog.open(path) as cat:
        items = [(a.id, a.image_path) for a in cat.artworks()]
        data_dir = cat.data_dir
    if ray is None:
        return encode_into_collection(items, data_dir, encoder, batch_size=batch_size,
                                      progress=progress, should_stop=should_stop)
    from artannot.vision.ray_detect import detect_on_ray

    store_dir = encoder.store_dir(data_dir)
    with FeatureStore(store_dir, dim=encoder.dim) as store:
        return store_dir, detect_on_ray(items, store, encoder.identity(), address=ray,
                                        device=device, batch_size=batch_size,
                                        progress=progress, should_stop=should_stop,
                                        on_plan=on_plan)


def register(app: typer.Typer) -> None:
    """Add the ``detect`` command to ``app``."""

    @app.command("detect")
    def detect(
        path: Annotated[Path, typer.Argument(help="Collection folder.", exists=True, file_okay=False)],
        detector: Annotated[str | None, typer.Option(
            help="'proposals' (no weights) or a detector model (default: the `detector` setting).")] = None,
        backbone: Annotated[str, typer.Option(help="Feature backbone: architecture or model name.")] = "efficientnet_lite0",
        device: Annotated[str | None, typer.Option(
            help="auto | cpu | cuda | cuda:N | mps (default: the `device` setting)")] = None,
        batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 2,
        k: Annotated[int, typer.Option("--k", min=1, help="Regions per artwork.")] = 36,
        min_size: Annotated[int, typer.Option(help="Shorter image side for features.")] = 600,
        max_size: Annotated[int, typer.Option(help="Longer image side at most.")] = 1000,
        ray: Annotated[str | None, typer.Option(
            "--ray", metavar="auto|ADDRESS",
            help="Run on Ray: 'auto' (RAY_ADDRESS, a local `ray start`, else Ray on this "
                 "machine) or a cluster address; needs artannot[cluster]. See docs/cluster.md.")] = None,
        whole: Annotated[bool, typer.Option(
            "--whole/--no-whole",
            help="Also one whole-image vector per artwork (EfficientNet-Lite0/1/2): the bundled "
                 "model ranks artworks for a text with it.")] = True,
    ) -> None:
        """Detect k regions per artwork and store their features (resumes after Ctrl+C)."""
        from tqdm import tqdm

        bar = tqdm(unit="artwork", desc="detect", dynamic_ncols=True)

        def progress(done: int, total: int, artwork_id: str) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            if detector is None or device is None:  # a broken settings file is an error here
                from artannot.core.config import load_config

                config = load_config()
                detector = detector or config.detector
                if ray is None:  # the setting names this machine's device, not a cluster's
                    device = device or config.device
            store_dir, report = run_detect(path, detector=detector, backbone=backbone, device=device,
                                           batch_size=batch_size, k=k, min_size=min_size,
                                           max_size=max_size, progress=progress, ray=ray,
                                           on_plan=lambda plan: bar.write(
                                               f"{plan.summary}: {plan.workers} worker(s) on {plan.device}"))
        except ArtannotError as exc:
            bar.close()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:  # while loading models or the catalog: nothing half-written
            bar.close()
            typer.echo("interrupted: finished artworks are stored; run again to resume", err=True)
            raise typer.Exit(130) from None
        bar.close()
        _summary(report, store_dir)
        if whole and not report.stopped:
            bar = tqdm(unit="artwork", desc="whole images", dynamic_ncols=True)
            try:
                store_dir, report = run_whole_images(path, device=device, batch_size=batch_size,
                                                     progress=progress, ray=ray)
            except ArtannotError as exc:
                bar.close()
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(1) from None
            except KeyboardInterrupt:
                report.stopped = True
            bar.close()
            _summary(report, store_dir)
        if report.stopped:
            typer.echo("interrupted: finished artworks are stored; run again to resume", err=True)
            raise typer.Exit(130)


def _summary(report, store_dir: Path) -> None:
    typer.echo(f"{report.processed} processed, {report.skipped} unchanged, "
               f"{len(report.failed)} failed ({report.images_per_second:.2f} images/s) -> {store_dir}")
    for artwork_id, message in report.failed.items():
        typer.echo(f"  {artwork_id}: {message}", err=True)
