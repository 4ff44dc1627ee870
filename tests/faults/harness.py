"""Kill a child process at a random moment of real work, then check what it left on disk.

Shared by the fault-injection tests (``tests/faults``) and ``bench/bench_faults.py``. Children
come from a *forkserver* that has imported torch, spaCy and artannot once, so a trial costs a
fork, not an interpreter start; they begin with fresh state (the server never ran a model), and
every child sets its own environment (the server's is the one it started with).

A child says ``ready`` just before its work begins; the parent then waits for the child's end
for at most a random delay drawn from a seeded RNG -- the delay *is* the fault -- and SIGKILLs
it if it is still running. Workloads report each durable step (a VOC save, a committed
judgement) through a pipe, so the parent knows what must survive.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PRELOAD = ["torch", "spacy", "artannot.cli", "artannot.core.catalog", "artannot.core.voc",
           "artannot.vision.runner", "artannot.text.collection", "artannot.retrieval.train",
           "tests.faults.harness", "tests.faults.warm"]
VOC_NAME = "fault_target.xml"
READY_TIMEOUT = 120.0  # bound on a child's start (a fork plus imports), not a wait for work

_ctx: Any = None


def context() -> Any:
    """The forkserver context (started on first use, with the heavy imports preloaded)."""
    global _ctx
    if _ctx is None:
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        _ctx = ctx
    return _ctx


@dataclass
class Spec:
    """What a child runs: a workload name, its arguments, the environment, where output goes."""

    kind: str
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    log: str = os.devnull


@dataclass
class Outcome:
    """How a child ended: killed or with an exit code; its acknowledged steps; seconds of work."""

    killed: bool
    exitcode: int | None
    acks: list[Any]
    seconds: float
    log: str

    def output(self) -> str:
        return Path(self.log).read_text(encoding="utf-8", errors="replace") if self.log != os.devnull else ""


# -- children ------------------------------------------------------------------------------
def _child(spec: Spec, conn: Any) -> None:
    """A forked child: its own environment and log, then ``ready``, the work, ``done``."""
    os.environ.update(spec.env)
    out = os.open(spec.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)
    os.dup2(out, 2)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", buffering=0), write_through=True)
    sys.stderr = sys.stdout
    import threading

    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)  # the machine is shared; one thread also keeps kills cheap
    tqdm.set_lock(threading.RLock())  # not a named semaphore, which a killed child would leak
    conn.send(("ready", time.monotonic()))
    code = WORKLOADS[spec.kind](spec, lambda step: conn.send(("ack", step)))
    conn.send(("done", code))
    conn.close()
    sys.stdout.flush()
    os._exit(code)


def _cli(spec: Spec, ack: Callable[[Any], None]) -> int:
    """One ``artannot`` command, run as ``python -m artannot`` would (exit code returned)."""
    from artannot.cli import app

    try:
        app(list(spec.args), prog_name="artannot")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def label_for(version: int) -> str:
    """A non-ASCII label that names its version (the VOC chain below)."""
    return f"Ölgemälde — 富士山と波 №{version} «détail» ✓"


def version_of(label: str) -> int:
    return int(label.split("№", 1)[1].split(" ", 1)[0])


def next_version(path: Path) -> int:
    """One curator save: read the VOC file, relabel its first box to the next version, save
    (atomic, ``.bak`` kept). Returns the version written."""
    from artannot.core.voc import read_voc, save_voc

    ann = read_voc(path)
    n = version_of(ann.regions[0].phrase) + 1
    ann.regions[0].phrase = label_for(n)
    ann.regions[1].phrase = f"{label_for(n)} · second"
    save_voc(ann)
    return n


def _voc(spec: Spec, ack: Callable[[Any], None]) -> int:
    """Save one VOC file with non-ASCII labels again and again (``args``: the file)."""
    path = Path(spec.args[0])
    while True:
        ack(next_version(path))


def _curate(spec: Spec, ack: Callable[[Any], None]) -> int:
    """What the GUI does per click: save the VOC file, update the catalog, store a judgement
    through ``catalog.judgements`` (``args``: collection, artwork id, VOC file)."""
    from artannot.core.catalog import Catalog
    from artannot.core.voc import read_voc

    root, artwork_id, path = Path(spec.args[0]), spec.args[1], Path(spec.args[2])
    with Catalog.open(root, refresh=False) as cat:
        while True:
            n = next_version(path)
            cat.record_annotation(artwork_id, read_voc(path), path)
            cat.judgements.add(judgement(artwork_id, n))
            ack(n)


def judgement(artwork_id: str, n: int) -> Any:
    """The n-th judgement of the curate workload (its key is unique by time)."""
    from artannot.core.judgements_store import Judgement

    return Judgement(artwork_id, "1,1,20,20", label_for(n), rank=n % 5, score=0.5,
                     accepted=n % 2 == 0, model="scan:fault", time=float(n))


WORKLOADS: dict[str, Callable[[Spec, Callable[[Any], None]], int]] = {
    "cli": _cli, "voc": _voc, "curate": _curate}


# -- parent --------------------------------------------------------------------------------
def run(spec: Spec, *, kill_after: float | None = None, timeout: float = 300.0) -> Outcome:
    """Run ``spec`` in a child; with ``kill_after``, SIGKILL it that many seconds after it
    started its work unless it has ended by then. Without, wait for its end (``timeout``
    bounds a hung child, which is then killed and reported)."""
    ctx = context()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(spec, sender), daemon=True)
    proc.start()
    sender.close()
    try:
        if not receiver.poll(READY_TIMEOUT):
            raise EOFError
        _, t0 = receiver.recv()
    except EOFError:
        proc.kill()
        proc.join()
        log = Path(spec.log).read_text(errors="replace")[-2000:] if spec.log != os.devnull else ""
        raise RuntimeError(f"child {spec.kind} did not start: {log}") from None
    proc.join(timeout if kill_after is None else kill_after)  # the fault's moment, or the end
    killed = proc.is_alive()
    if killed:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    seconds = time.monotonic() - t0
    acks, code = [], None
    with contextlib.suppress(EOFError, OSError):
        while True:
            kind, value = receiver.recv()
            if kind == "ack":
                acks.append(value)
            elif kind == "done":
                code = value
    receiver.close()
    if kill_after is None and killed:
        raise RuntimeError(f"child {spec.kind} {list(spec.args)} ran past {timeout} s")
    return Outcome(killed, None if killed else (code if code is not None else proc.exitcode),
                   acks, seconds, spec.log)


def start_together(specs: Sequence[Spec], timeout: float = 300.0) -> list[Outcome]:
    """Run several children at once (each starts its work as soon as it is ready) and wait
    for all of them."""
    ctx = context()
    started = []
    for spec in specs:
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(spec, sender), daemon=True)
        proc.start()
        sender.close()
        started.append((spec, proc, receiver))
    outcomes = []
    for spec, proc, receiver in started:
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()
            raise RuntimeError(f"child {spec.kind} {list(spec.args)} ran past {timeout} s")
        code, acks = proc.exitcode, []
        with contextlib.suppress(EOFError, OSError):
            while True:
                kind, value = receiver.recv()
                if kind == "done":
                    code = value
                elif kind == "ack":
                    acks.append(value)
        outcomes.append(Outcome(False, code, acks, 0.0, spec.log))
    return outcomes


@dataclass
class Job:
    """A collection copy with its own data folder: where one experiment's commands run."""

    root: Path
    data: Path
    logs: Path
    runs: int = 0

    @property
    def env(self) -> dict[str, str]:
        return {"ARTANNOT_DATA_DIR": str(self.data), "ARTANNOT_MODELS_DIR": str(self.data / "models")}

    def spec(self, kind: str, *args: str) -> Spec:
        self.runs += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        return Spec(kind, list(args), self.env, str(self.logs / f"{self.runs:04d}-{kind}-{Path(args[0]).name if args else ''}.log"))

    def cli(self, *args: str, kill_after: float | None = None) -> Outcome:
        """``artannot ARGS`` on this collection (its path is appended), maybe killed."""
        return run(self.spec("cli", *args, str(self.root)), kill_after=kill_after)

    def collection_data(self) -> Path:
        """The collection's folder inside the data folder (catalog, features, checkpoints);
        this process must point ``ARTANNOT_DATA_DIR`` at :attr:`data` too."""
        from artannot.core.catalog import data_dir_for

        assert os.environ.get("ARTANNOT_DATA_DIR") == str(self.data), "set ARTANNOT_DATA_DIR here too"
        return data_dir_for(self.root.resolve())
