"""Shared builders for the interop tests."""

from __future__ import annotations

import json
from typing import Any

from artannot.core.geometry import Box
from artannot.core.model import Annotation, Region
from artannot.core.voc import annotation_from_tree, new_annotation, parse_voc_bytes, voc_bytes

W, H = 640, 480


def tricky_annotation() -> Annotation:
    """Integer, float and border-touching boxes, a duplicate phrase and non-ASCII text."""
    ann = new_annotation("images/test.jpg", W, H)
    ann.regions = [
        Region(Box(1, 1, W, H), "whole painting"),  # touches all four borders
        Region(Box(95, 40, 560, 380), "towering blue wave", difficult=True),
        Region(Box(10.5, 20.25, 100.3, 200.7), "float box, LabelImg-incompatible", truncated=True),
        Region(Box(1, 1, 1, 1), "single top-left pixel"),
        Region(Box(W, H, W, H), "single bottom-right pixel"),
        Region(Box(300, 60, 560, 220), "towering blue wave"),
        Region(Box(33.333, 1, 640, 66.6667), "écume « blanche » 波"),
    ]
    return ann


def reload(ann: Annotation) -> Annotation:
    """What a VOC file written for ``ann`` reads back as."""
    return annotation_from_tree(parse_voc_bytes(voc_bytes(ann)))


def through_json(data: Any) -> Any:
    return json.loads(json.dumps(data))


def boxes(ann: Annotation) -> list[tuple[str, Box]]:
    return [(r.phrase, r.box) for r in ann.regions]
