"""One fault-injection trial per function: kill, check what is left, rerun, compare.

The tests run a few trials and assert that each found nothing; ``bench/bench_faults.py`` runs
many and counts. Every trial returns a :class:`Trial` whose lists name what went wrong.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.checks import (
    VocChain,
    check_outputs,
    check_voc,
    count_lines,
    make_voc_target,
    missing_judgements,
    readable_features,
)
from tests.faults.harness import Job, Outcome, Spec, run, start_together

DETECT = ("--k", "2", "--min-size", "64", "--max-size", "64", "--batch-size", "2")
TRAIN_EPOCHS = 3
TRAIN = ("--text-encoder", "phrase", "--init", "scratch", "--num-epochs", str(TRAIN_EPOCHS),
         "--batch-size", "4", "--min-phrase-count", "1", "--embed-size", "32", "--word-dim", "16")
ARGS: dict[str, tuple[str, ...]] = {"index": (), "phrases": ("--min-count", "1"), "detect": DETECT,
                                    "train": TRAIN}
BEFORE: dict[str, tuple[str, ...]] = {"index": (), "phrases": ("index",), "detect": ("index",),
                                      "train": ("index", "phrases", "detect")}
CURATED = "images/fault.png"


def make_collection(root: Path, n: int) -> Path:
    """Images, JSON records with descriptions and VOC files of ``n`` small synthetic scenes."""
    from artannot.retrieval.synthetic import write_collection

    write_collection(root, n, seed=5, size=64)
    return root


@dataclass
class Trial:
    """What one trial found: torn files, lost artworks, lost judgements, a rerun unlike a clean run."""

    killed: bool = False
    torn: list[str] = field(default_factory=list)
    lost_artworks: list[str] = field(default_factory=list)
    lost_judgements: int = 0
    mismatch: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return (self.torn + self.lost_artworks + self.mismatch
                + ([f"{self.lost_judgements} judgement(s) lost"] if self.lost_judgements else []))


# -- one VOC file, saved in a tight loop ----------------------------------------------------
def voc_trial(folder: Path, chain: VocChain, delay: float) -> Trial:
    """Kill a loop of saves of one VOC file (non-ASCII labels) ``delay`` seconds in."""
    target = make_voc_target(folder / "annotations" / "a.xml")
    out = run(Spec("voc", [str(target)], log=str(folder / "voc.log")), kill_after=delay)
    torn = check_voc(target, chain, max(out.acks, default=0))
    return Trial(out.killed, torn=[p for p in torn if "missing" not in p],
                 lost_artworks=[p for p in torn if "missing" in p])


# -- a curator's clicks: VOC save, catalog update, judgement ----------------------------------
def prepare_curation(job: Job) -> Path:
    """An artwork whose VOC file is the chain's, in an indexed collection."""
    shutil.copy(next((job.root / "images").iterdir()), job.root / CURATED)
    target = make_voc_target(job.root / "annotations" / "fault.xml")
    assert job.cli("index").exitcode == 0
    return target


def curate_trial(job: Job, target: Path, chain: VocChain, acked: list[int], delay: float) -> Trial:
    """Kill the curate workload ``delay`` seconds in; ``acked`` collects every judgement it
    acknowledged in this and earlier trials (all must still be there)."""
    start = chain.version(target.read_bytes()) or 0  # a kill may have come after a save, before its ack
    out = run(job.spec("curate", str(job.root), CURATED, str(target)), kill_after=delay)
    acked += out.acks
    voc = check_voc(target, chain, max(out.acks, default=start))
    return Trial(out.killed, torn=[p for p in voc if "missing" not in p] + check_outputs(job.root, job.collection_data()),
                 lost_artworks=[p for p in voc if "missing" in p],
                 lost_judgements=missing_judgements(job.root, acked, CURATED))


# -- the commands -----------------------------------------------------------------------------
@dataclass
class Baseline:
    """A clean run of a command: its duration and what a rerun must reproduce."""

    command: str
    seconds: float
    counts: list[str]
    ids: list[str]
    result: list[str]


def command(job: Job, name: str, *, kill_after: float | None = None) -> Outcome:
    return job.cli(name, *ARGS[name], kill_after=kill_after)


def baseline(job: Job, name: str) -> Baseline:
    """Run what ``name`` needs, then ``name`` itself, cleanly."""
    for before in BEFORE[name]:
        out = command(job, before)
        assert out.exitcode == 0, out.output()
    clean = command(job, name)
    assert clean.exitcode == 0, clean.output()
    ids = _catalog_ids(job)
    return Baseline(name, clean.seconds, count_lines(clean.output()), ids, _result(job, name, ids))


def command_trial(job: Job, base: Baseline, delay: float) -> Trial:
    """Undo what the command made, kill a fresh run ``delay`` seconds in, check every file,
    rerun, and compare with the clean run."""
    name = base.command
    _reset(job, name)
    out = command(job, name, kill_after=delay)
    trial = Trial(out.killed, torn=check_outputs(job.root, job.collection_data()))
    if name == "detect":  # what a killed run stored is readable (or not stored at all)
        stored = _stored_ids(job)
        trial.torn += [f"unreadable features of {a}" for a in readable_features(_store_dir(job), stored)]
    rerun = command(job, name)
    if rerun.exitcode != 0:
        trial.mismatch.append(f"rerun of {name} failed: {rerun.output()[-500:]}")
        return trial
    if count_lines(rerun.output()) != base.counts:
        trial.mismatch.append(f"rerun of {name} counted {count_lines(rerun.output())}, a clean run {base.counts}")
    result = _result(job, name, base.ids)
    missing = [r for r in base.result if r not in result]
    if name == "train":
        trial.mismatch += [f"train: rerun gave {result}, a clean run {base.result}"] if missing else []
    else:
        trial.lost_artworks += [f"{name}: {m} lost" for m in missing]
    return trial


def _reset(job: Job, name: str) -> None:
    data = job.collection_data()
    if name in ("index", "phrases"):  # phrases are cached in the catalog: start from nothing
        shutil.rmtree(data, ignore_errors=True)
        if name == "phrases":
            assert command(job, "index").exitcode == 0
    else:
        shutil.rmtree(data / ("features" if name == "detect" else "scan"), ignore_errors=True)


def _result(job: Job, name: str, ids: Sequence[str]) -> list[str]:
    """What a run leaves that must not lose artworks: indexed artworks, artworks with captions,
    artworks with readable features; for training, epochs done and phrases known."""
    if name == "index":
        return _catalog_ids(job)
    if name == "phrases":
        data = json.loads((job.collection_data() / "caption_data.json").read_text(encoding="utf-8"))
        return sorted(image["artwork_id"] for image in data["images"])
    if name == "detect":
        unreadable = set(readable_features(_store_dir(job), ids))
        return [a for a in ids if a not in unreadable]
    from artannot.retrieval.checkpoint import load_checkpoint

    last = load_checkpoint(job.collection_data() / "scan" / "last.pt")
    return [f"epoch {last.epoch}", f"{len(last.vocab.phrase_list())} phrases"]


def _catalog_ids(job: Job) -> list[str]:
    from artannot.core.catalog import Catalog

    with Catalog.open(job.root, refresh=False) as cat:
        return cat.artwork_ids()


def _store_dir(job: Job) -> Path:
    found = sorted((job.collection_data() / "features").glob("*/index.sqlite"))
    return found[0].parent if found else job.collection_data() / "features" / "none"


def _stored_ids(job: Job) -> list[str]:
    from artannot.vision.feature_store import FeatureStore

    if not (_store_dir(job) / "index.sqlite").exists():
        return []
    with FeatureStore(_store_dir(job), readonly=True) as store:
        return store.ids()


# -- two writers at once ------------------------------------------------------------------------
def together_trial(job: Job, names: Sequence[str], before: Sequence[str] = ()) -> Trial:
    """From an empty data folder, run ``before`` one by one, then ``names`` at once; each must
    end well (a second writer waits for the first) and every artwork be there afterwards."""
    shutil.rmtree(job.collection_data(), ignore_errors=True)
    for name in before:
        assert command(job, name).exitcode == 0
    outs = start_together([job.spec("cli", n, *ARGS[n], str(job.root)) for n in names])
    trial = Trial(False, torn=check_outputs(job.root, job.collection_data()))
    for name, out in zip(names, outs):
        if out.exitcode != 0:
            trial.mismatch.append(f"{name} beside {'+'.join(names)} ended with {out.exitcode}: {out.output()[-300:]}")
    ids = _catalog_ids(job)
    for name in set(names):
        if name in ("index", "detect", "phrases"):
            got = _result(job, name, ids)
            trial.lost_artworks += [f"{name}: {a} lost" for a in ids if a not in got]
    return trial
