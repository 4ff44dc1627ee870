"""Fault injection at scale (issue 15): SIGKILL artannot at random moments, count the damage.

Every trial kills a child process at a moment drawn from a seeded RNG while it saves a VOC file
(non-ASCII labels) in a tight loop, performs a curator's clicks (VOC save, catalog update,
judgement through ``catalog.judgements``), or runs ``index``, ``phrases``, ``detect`` or
``train`` on a small synthetic collection; then every file is checked (VOC files equal the old
or the new version, ``.bak`` beside them; JSON, arrays, checkpoints load; SQLite passes its
integrity check), the command is rerun and compared with a clean run. Pairs of writers run at
once too (two ``detect``; ``phrases`` + ``index``; two first ``index``). The trials themselves
are those of ``tests/faults`` (shared code), only many more.

    .venv/bin/python bench/bench_faults.py            # >= 1,000 kills (about 15 min on 2 busy cores)
    .venv/bin/python bench/bench_faults.py --quick    # a tenth of that

Goal: 0 torn files, 0 lost artworks, 0 lost judgements, every rerun equal to a clean run.
Exits non-zero when a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.checks import VocChain  # noqa: E402
from tests.faults.harness import Job  # noqa: E402
from tests.faults.trials import (  # noqa: E402
    Trial,
    baseline,
    command_trial,
    curate_trial,
    make_collection,
    prepare_curation,
    together_trial,
    voc_trial,
)

FULL = {"voc": 650, "curate": 250, "index": 100, "phrases": 20, "detect": 30, "train": 20, "together": 10}
TOGETHER = [(["detect", "detect"], ["index"]), (["phrases", "index"], []), (["index", "index"], [])]


class Row:
    """Tallies of one workload."""

    def __init__(self, name: str) -> None:
        self.name, self.trials, self.kills, self.seconds = name, 0, 0, 0.0
        self.torn = self.lost_artworks = self.lost_judgements = self.mismatch = 0
        self.examples: list[str] = []

    def add(self, trial: Trial) -> None:
        self.trials += 1
        self.kills += trial.killed
        self.torn += len(trial.torn)
        self.lost_artworks += len(trial.lost_artworks)
        self.lost_judgements += trial.lost_judgements
        self.mismatch += len(trial.mismatch)
        self.examples += trial.problems[: max(0, 5 - len(self.examples))]

    def line(self) -> str:
        return (f"| {self.name} | {self.trials} | {self.kills} | {self.torn} | {self.lost_artworks} | "
                f"{self.lost_judgements} | {self.mismatch} | {self.seconds:.0f} s |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the trials")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--artworks", type=int, default=16, help="size of the synthetic collection")
    for name, n in FULL.items():
        parser.add_argument(f"--{name}", type=int, default=None, help=f"trials (default {n})")
    args = parser.parse_args()
    counts = {name: getattr(args, name) if getattr(args, name) is not None
              else max(1, n // 10) if args.quick else n for name, n in FULL.items()}
    rng = random.Random(args.seed)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench_faults_") as tmp_dir:
        tmp = Path(tmp_dir)
        prepared = make_collection(tmp / "prepared", args.artworks)
        os.environ["ARTANNOT_DATA_DIR"] = str(tmp / "data")

        def job(name: str) -> Job:
            import shutil

            root = tmp / name / "collection"
            shutil.copytree(prepared, root)
            return Job(root, tmp / "data", tmp / name / "logs")

        def timed(name: str, n: int, one) -> None:
            row, t0 = Row(name), time.perf_counter()
            for i in range(n):
                row.add(one(i))
            row.seconds = time.perf_counter() - t0
            rows.append(row)
            print(row.line(), flush=True)

        chain = VocChain(tmp / "scratch")
        timed("VOC save loop", counts["voc"],
              lambda i: voc_trial(tmp / "voc" / str(i), chain, rng.uniform(0.0, 0.1)))
        curation = job("curate")
        target, acked = prepare_curation(curation), []
        timed("curator clicks (VOC + catalog + judgements)", counts["curate"],
              lambda i: curate_trial(curation, target, chain, acked, rng.uniform(0.0, 0.3)))
        for name in ("index", "phrases", "detect", "train"):
            if not counts[name]:
                continue
            j = job(name)
            base = baseline(j, name)
            timed(f"`{name}`", counts[name],
                  lambda i, j=j, base=base: command_trial(j, base, rng.uniform(0.0, base.seconds)))
        j = job("together")
        timed("two writers at once", counts["together"],
              lambda i: together_trial(j, *TOGETHER[i % len(TOGETHER)]))

    total = Row("**all**")
    for row in rows:
        for attr in ("trials", "kills", "torn", "lost_artworks", "lost_judgements", "mismatch", "seconds"):
            setattr(total, attr, getattr(total, attr) + getattr(row, attr))
    print("\n| workload | trials | kills | torn files | lost artworks | lost judgements | rerun ≠ clean | time |")
    print("|---|---|---|---|---|---|---|---|")
    for row in [*rows, total]:
        print(row.line())
    print(f"\njudgements acknowledged before kills: {len(acked)}; VOC versions seen: {len(chain.versions)}")
    for row in rows:
        for example in row.examples:
            print(f"  {row.name}: {example}")
    failed = total.torn + total.lost_artworks + total.lost_judgements + total.mismatch
    if failed or (not args.quick and total.kills < 1000):
        print(f"goal missed: {failed} problem(s), {total.kills} kills (goal: 0 problems, >= 1,000 kills)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
