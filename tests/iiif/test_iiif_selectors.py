"""The W3C importer reads the target forms IIIF tools write (Mirador, Annotorious, Recogito)."""

from __future__ import annotations

from pathlib import Path

import pytest

from artannot.core.geometry import Box
from artannot.core.interop import InteropError, from_w3c
from artannot.core.interop.selectors import parse_target

CANVAS = "https://iiif.example.org/canvas/1"


def anno(target: object, text: str = "cat", purpose: str = "tagging") -> dict:
    return {"type": "Annotation", "motivation": "describing" if purpose == "describing" else "tagging",
            "body": {"type": "TextualBody", "value": text, "purpose": purpose}, "target": target}


def svg(shape: str) -> dict:
    return {"type": "SpecificResource", "source": {"id": CANVAS, "type": "Canvas"},
            "selector": {"type": "SvgSelector", "value": f"<svg xmlns='http://www.w3.org/2000/svg'>{shape}</svg>"}}


@pytest.mark.parametrize(
    ("target", "box"),
    [
        (f"{CANVAS}#xywh=10,20,30,40", Box(11, 21, 40, 60)),
        (f"{CANVAS}#xywh=pixel:10,20,30,40", Box(11, 21, 40, 60)),
        (f"{CANVAS}#xywh=percent:50,25,50,50", Box(101, 26, 200, 75)),  # of the 200 x 100 canvas
        ({"id": f"{CANVAS}#xywh=0,0,5,5", "type": "Canvas"}, Box(1, 1, 5, 5)),
        ({"type": "SpecificResource", "source": {"id": CANVAS, "type": "Canvas", "partOf": [{"id": "m"}]},
          "selector": [{"type": "TextQuoteSelector"}, {"type": "FragmentSelector", "value": "xywh=1,2,3,4"}]},
         Box(2, 3, 4, 6)),
        (svg("<rect x='10' y='20' width='30' height='40'/>"), Box(11, 21, 40, 60)),
        (svg("<g><polygon points='10,20 40,20 40,60 10,60'/></g>"), Box(11, 21, 40, 60)),  # a rectangle
    ],
)
def test_rectangles_in_every_form(target: object, box: Box) -> None:
    notes: list[str] = []
    [(source, region)] = from_w3c(anno(target), "a.json", size_of=lambda s: (200, 100), notes=notes)
    assert source == CANVAS and region.box == box and region.phrase == "cat"
    assert notes == []


@pytest.mark.parametrize(
    ("shape", "box", "kind"),
    [
        ("<polygon points='10,20 50,25 30,60'/>", Box(11, 21, 50, 60), "polygon"),
        ("<polyline points='5 5, 15 30, 25 10'/>", Box(6, 6, 25, 30), "polyline"),
        ("<circle cx='50' cy='50' r='10'/>", Box(41, 41, 60, 60), "circle"),
        ("<ellipse cx='50' cy='50' rx='20' ry='10'/>", Box(31, 41, 70, 60), "ellipse"),
        ("<path d='M10 10 l20 0 l0 30 h-10 v5 Z'/>", Box(11, 11, 30, 45), "path"),
        ("<path d='M10,10 C 20,0 40,0 50,10 S 60,80 10,10z'/>", Box(11, 1, 60, 80), "path"),
    ],
)
def test_other_shapes_become_their_bounding_box_and_are_counted(shape: str, box: Box, kind: str) -> None:
    notes: list[str] = []
    [(_, region)] = from_w3c(anno(svg(shape)), "a.json", size_of=lambda s: (200, 100), notes=notes)
    assert region.box == box
    assert len(notes) == 1 and kind in notes[0]


def test_describing_bodies_are_read() -> None:
    [(_, region)] = from_w3c(anno(f"{CANVAS}#xywh=0,0,5,5", "a sleeping village", "describing"))
    assert region.phrase == "a sleeping village"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (CANVAS, "target needs"),
        (f"{CANVAS}#t=1,2", "is not 'xywh"),
        (svg("<rect x='a' y='0' width='1' height='1'/>"), "non-numeric x"),
        (svg("<path d='10 10 L 5'/>"), "unreadable coordinates"),
        (svg("<polygon points='1,1'/>"), "fewer than two points"),
        ({"source": CANVAS, "selector": {"type": "SvgSelector", "value": "<svg><rect"}}, "malformed XML"),
        ({"source": CANVAS, "selector": {"type": "SvgSelector", "value":
          "<!DOCTYPE svg [<!ENTITY x 'y'>]><svg><rect x='1' y='1' width='1' height='1'/></svg>"}}, "DOCTYPE"),
        ({"source": CANVAS, "selector": {"type": "SvgSelector", "id": "https://x/shape.svg"}}, "inline 'value'"),
        ({"source": {"type": "Canvas"}, "selector": {"type": "FragmentSelector", "value": "xywh=0,0,1,1"}},
         "target needs"),
    ],
)
def test_bad_targets_are_refused_with_a_clear_error(target: object, message: str) -> None:
    with pytest.raises(InteropError, match=message) as info:
        from_w3c(anno(target), "w.json", size_of=lambda s: (200, 100))
    assert "w.json" in str(info.value) and "annotation 1" in str(info.value)


def test_parse_target_keeps_canvas_units() -> None:
    sel = parse_target(f"{CANVAS}#xywh=1000,2000,30.5,40", "a", Path("x"))
    assert sel.source == CANVAS and sel.xywh == (1000, 2000, 30.5, 40) and not sel.percent
