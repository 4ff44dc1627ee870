"""Imported once by the fault-injection forkserver: loads what every phrase child would load
(the spaCy pipeline, pure numpy), so a trial pays a fork instead of a model load. Nothing here
runs torch: a forked child must not inherit a started thread pool."""

from __future__ import annotations

from artannot.text.phrases import load_nlp

load_nlp()
