from __future__ import annotations

import numpy as np
import pytest

from artannot.retrieval.evaluate import (
    best_ranks,
    direction_metrics,
    format_table,
    metrics_from_scores,
    rerank_scores,
)


def test_recall_against_hand_ranking():
    # 4 images x 4 texts, text i belongs to image i.
    s = np.array([[0.9, 0.1, 0.2, 0.3],   # image 0: its text ranks 1st  -> rank 0
                  [0.8, 0.5, 0.7, 0.1],   # image 1: 0.5 below .8, .7    -> rank 2
                  [0.1, 0.2, 0.3, 0.4],   # image 2: .3 below .4         -> rank 1
                  [0.9, 0.8, 0.7, 0.0]])  # image 3: last                -> rank 3
    m = metrics_from_scores(s, [[0], [1], [2], [3]])
    assert m.i2t.r1 == 25.0 and m.i2t.r5 == 100.0
    assert m.i2t.medr == 2.0  # ranks 1,3,2,4 (1-based): median 2.5 -> floor(1.5)+1 = 2
    assert m.i2t.meanr == pytest.approx((1 + 3 + 2 + 4) / 4)
    # text columns: text0 best image 0 (.9 ties image 3 .9 -> tie counts against: rank 1)
    # text1: .5 below .8 (img3)->1; text2: .3 below .7,.7 -> 2; text3: .0 below all -> 3
    assert list(best_ranks(s.T, [[0], [1], [2], [3]])) == [1, 1, 2, 3]
    assert m.t2i.r1 == 0.0 and m.t2i.r5 == 100.0
    assert m.rsum == pytest.approx(25 + 100 + 100 + 0 + 100 + 100)
    assert "| Method |" in format_table([m], "demo")


def test_multiple_correct_texts_use_best_one():
    s = np.array([[0.1, 0.9, 0.5], [0.2, 0.3, 0.4]])
    # image 0 owns texts 0 and 1 (SCAN's 5-caption rule: the best-ranked one counts)
    assert list(best_ranks(s, [[0, 1], [2]])) == [0, 0]


def test_nan_scores_rank_last():
    s = np.array([[np.nan, 0.1], [0.2, 0.3]])
    assert best_ranks(s, [[0], [1]])[0] == 1


def test_direction_metrics_percent():
    d = direction_metrics(np.array([0, 4, 9, 10]))
    assert (d.r1, d.r5, d.r10) == (25.0, 50.0, 75.0)


def test_rerank_downgrades_a_text_that_fits_another_image_better():
    # image 0's text is 1, image 1's text is 0; raw scores give image 0 the wrong text 0, which
    # fits image 1 better (0.95): re-ranking demotes it (seed 003, eq. 3.13)
    s = np.array([[0.90, 0.85], [0.95, 0.30]])
    raw = metrics_from_scores(s, [[1], [0]])
    rr = metrics_from_scores(s, [[1], [0]], rerank=True)
    assert raw.i2t.r1 == 50.0 and rr.i2t.r1 == 100.0
    for_i2t, for_t2i = rerank_scores(s)
    np.testing.assert_allclose(for_i2t[0], [0.90 + 0.90 / 0.95, 0.85 + 1.0])
    np.testing.assert_allclose(for_t2i[:, 0], [0.90 + 0.90 / 0.90, 0.95 + 1.0])
    # a pair that is best both ways keeps its rank; non-positive columns are left alone
    eye = np.array([[0.9, 0.1, -0.2], [0.2, 0.8, -0.5]])
    a, b = rerank_scores(eye)
    assert a[:, 2].tolist() == eye[:, 2].tolist() and np.isfinite(a).all() and np.isfinite(b).all()
    assert (a.argmax(axis=1) == eye.argmax(axis=1)).all()
