"""Box: the VOC 1-based inclusive convention at every boundary."""

from __future__ import annotations

import math

import pytest

from artannot.core.geometry import Box


def test_full_image_box_to_edges_is_zero_to_size():
    assert Box(1, 1, 640, 480).to_edges() == (0.0, 0.0, 640.0, 480.0)
    assert Box.whole_image(640, 480) == Box(1, 1, 640, 480)


def test_single_pixel_box():
    b = Box(1, 1, 1, 1)
    assert b.to_edges() == (0.0, 0.0, 1.0, 1.0)
    assert b.width == 1 and b.height == 1 and b.area == 1


@pytest.mark.parametrize("edges", [(0, 0, 640, 480), (10, 20, 11, 21), (3.5, 2.25, 100.75, 50.5)])
def test_from_edges_is_inverse_of_to_edges(edges):
    b = Box.from_edges(*edges)
    assert b.to_edges() == tuple(float(v) for v in edges)
    assert Box.from_edges(*b.to_edges()) == b


def test_from_edges_orders_a_drag_in_any_direction():
    assert Box.from_edges(100, 80, 10, 5) == Box.from_edges(10, 5, 100, 80) == Box(11, 6, 100, 80)


def test_width_height_inclusive():
    b = Box(11, 21, 30, 60)
    assert (b.width, b.height) == (20, 40)
    x0, y0, x1, y1 = b.to_edges()
    assert (x1 - x0, y1 - y0) == (b.width, b.height)


def test_to_xywh_for_coco():
    assert Box(1, 1, 640, 480).to_xywh() == (0.0, 0.0, 640.0, 480.0)
    assert Box(11, 21, 30, 60).to_xywh() == (10.0, 20.0, 20.0, 40.0)
    assert Box.from_xywh(10, 20, 20, 40) == Box(11, 21, 30, 60)


def test_clamped_keeps_inside_part():
    assert Box(-5, -5, 1000, 1000).clamped(640, 480) == Box(1, 1, 640, 480)
    assert Box(600, 400, 700, 500).clamped(640, 480) == Box(600, 400, 640, 480)
    inside = Box(5, 5, 10, 10)
    assert inside.clamped(640, 480) == inside
    # entirely outside: still at least one pixel, inside the image
    c = Box(700, 500, 800, 600).clamped(640, 480)
    assert c.inside(640, 480) and c.width >= 1 and c.height >= 1


def test_inside_boundaries():
    assert Box(1, 1, 640, 480).inside(640, 480)
    assert not Box(0, 1, 640, 480).inside(640, 480)
    assert not Box(1, 1, 641, 480).inside(640, 480)
    assert not Box(1, 1, 640, 481).inside(640, 480)


def test_rounded_translated_iou():
    assert Box(1.4, 1.6, 9.5, 10.49).rounded() == Box(1, 2, 10, 10)
    assert Box(1, 1, 10, 10).translated(5, -0) == Box(6, 1, 15, 10)
    a = Box(1, 1, 10, 10)
    assert a.iou(a) == 1.0
    assert a.iou(Box(11, 11, 20, 20)) == 0.0
    # edge-adjacent 10x10 boxes overlapping by half: inter 50, union 150
    assert math.isclose(a.iou(Box(6, 1, 15, 10)), 50 / 150)


@pytest.mark.parametrize("vals", [(5, 5, 4, 10), (5, 5, 10, 4), (math.nan, 1, 2, 2), (1, 1, math.inf, 2)])
def test_invalid_boxes_rejected(vals):
    with pytest.raises(ValueError):
        Box(*vals)
