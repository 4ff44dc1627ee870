from __future__ import annotations

import numpy as np
import pytest
import torch

from artannot.retrieval.attention import chunked_scores, xattn_scores
from artannot.retrieval.checkpoint import build_model
from artannot.retrieval.config import ScanConfig
from artannot.retrieval.data import encode_texts, pad_features
from artannot.retrieval.loss import contrastive_loss, phrase_region_loss
from artannot.text.vocab import TextVocab
from tests.retrieval.fake_vectors import fake_vectors

PHRASES = ["red circle", "blue square", "small green triangle", "large red square"]


def _vocab() -> TextVocab:
    vocab = TextVocab.build([PHRASES], min_phrase_count=1)
    vocab.vectors = fake_vectors(8)  # used by the pretrained encoder, ignored by the others
    return vocab


def _model(**kw) -> torch.nn.Module:
    cfg = ScanConfig(embed_size=16, word_dim=8, phrase_dim=8, mlp_hidden=16, **kw)
    return build_model(cfg, _vocab(), feature_dim=12)


@pytest.mark.parametrize("text_encoder", ["pretrained", "phrase", "word"])
@pytest.mark.parametrize("cross_attn", ["i2t", "t2i"])
@pytest.mark.parametrize("agg", ["AVG", "LSE", "MAX"])
def test_shapes_and_padding_invariance(text_encoder, cross_attn, agg):
    torch.manual_seed(0)
    m = _model(text_encoder=text_encoder, cross_attn=cross_attn, agg=agg).eval()
    v = m.txt_enc  # noqa: F841 - built
    feats = [np.random.default_rng(i).normal(size=(k, 12)).astype(np.float32)
             for i, k in enumerate([3, 1, 5])]
    texts = [["red circle"], ["blue square", "small green triangle", "red circle"],
             ["large red square", "blue square"]]
    vocab = _vocab()
    f, fm = pad_features(feats)
    tb = encode_texts(vocab, texts)
    with torch.no_grad():
        s = m(f, fm, tb)
    assert s.shape == (3, 3)
    assert torch.isfinite(s).all()
    # Each pair scored alone, without any padding, gives the same number.
    for i in range(3):
        for j in range(3):
            fi, fmi = pad_features([feats[i]])
            with torch.no_grad():
                alone = m(fi, fmi, encode_texts(vocab, [texts[j]]))
            assert alone.shape == (1, 1)
            assert alone.item() == pytest.approx(s[i, j].item(), abs=1e-5)


def test_extra_padding_does_not_change_scores():
    torch.manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(2, 4, 8), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(3, 5, 8), dim=-1)
    im = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    tm = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    img = img * im[..., None]
    txt = txt * tm[..., None]
    for ca in ("i2t", "t2i"):
        a = xattn_scores(img, im, txt, tm, cross_attn=ca)
        img2 = torch.cat([img, torch.zeros(2, 3, 8)], 1)
        im2 = torch.cat([im, torch.zeros(2, 3, dtype=torch.bool)], 1)
        txt2 = torch.cat([txt, torch.zeros(3, 2, 8)], 1)
        tm2 = torch.cat([tm, torch.zeros(3, 2, dtype=torch.bool)], 1)
        b = xattn_scores(img2, im2, txt2, tm2, cross_attn=ca)
        assert torch.allclose(a, b, atol=1e-6)


def test_matches_explicit_attended_vector():
    """The Gram-matrix shortcut equals SCAN's explicit a_i = sum_j alpha_ij e_j."""
    torch.manual_seed(1)
    v = torch.nn.functional.normalize(torch.randn(1, 3, 6), dim=-1)
    e = torch.nn.functional.normalize(torch.randn(1, 4, 6), dim=-1)
    ones_v, ones_e = torch.ones(1, 3, dtype=torch.bool), torch.ones(1, 4, dtype=torch.bool)
    got = xattn_scores(v, ones_v, e, ones_e, cross_attn="i2t", lambda_softmax=9.0)
    raw = v[0] @ e[0].T  # [k, n]
    x = torch.nn.functional.leaky_relu(raw, 0.1)
    x = x / x.norm(dim=0, keepdim=True)  # over regions, as SCAN's clipped_l2norm
    alpha = torch.softmax(9.0 * x, dim=1)
    a = alpha @ e[0]
    want = torch.nn.functional.cosine_similarity(v[0], a, dim=-1).mean()
    assert got.item() == pytest.approx(want.item(), abs=1e-5)


def test_chunked_equals_unchunked():
    torch.manual_seed(2)
    img = torch.nn.functional.normalize(torch.randn(7, 4, 8), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(9, 3, 8), dim=-1)
    im, tm = torch.ones(7, 4, dtype=torch.bool), torch.ones(9, 3, dtype=torch.bool)
    tm[2, 1:] = False
    for ca in ("i2t", "t2i"):
        full = xattn_scores(img, im, txt, tm, cross_attn=ca, agg="LSE")
        part = chunked_scores(img, im, txt, tm, img_chunk=3, txt_chunk=4, cross_attn=ca,
                              agg="LSE")
        assert torch.allclose(full, part, atol=1e-6)


def test_k1_coarse_and_fragment_score_is_cosine():
    m = _model(agg="LSE").eval()
    f, fm = pad_features([np.ones((1, 12), np.float32)])
    tb = encode_texts(_vocab(), [["red circle"]])
    with torch.no_grad():
        s = m(f, fm, tb)
        r = m.encode_images(f, fm)[0]
        p = m.encode_texts(tb)[0]
    assert s.item() == pytest.approx(m.fragment_scores(r, p).item(), abs=1e-5)


def test_hardest_negative_loss_by_hand():
    s = torch.tensor([[0.9, 0.5, 0.2],
                      [0.3, 0.6, 0.7],
                      [0.1, 0.65, 0.4]])
    # Negative texts per image (rows): hardest s(0,1)=.5, s(1,2)=.7, s(2,1)=.65
    # -> [.2-.9+.5]+=0, [.2-.6+.7]=.3, [.2-.4+.65]=.45
    # Negative images per text (cols): hardest s(1,0)=.3, s(2,1)=.65, s(1,2)=.7
    # -> [.2-.9+.3]+=0, [.2-.6+.65]=.25, [.2-.4+.7]=.5
    assert contrastive_loss(s, margin=0.2).item() == pytest.approx(0.3 + 0.45 + 0.25 + 0.5)
    # Sum over all negatives: rows {0,0 | .1,.3 | 0,.45} + cols {0,0 | .1,.25 | 0,.5} (by hand)
    want = (0 + 0) + (max(0, .2 - .6 + .3) + .3) + (0 + .45) + \
           (0 + 0) + (max(0, .2 - .6 + .5) + .25) + (max(0, .2 - .4 + .2) + .5)
    assert contrastive_loss(s, margin=0.2, max_violation=False).item() == pytest.approx(want)


def test_another_caption_of_the_same_image_is_never_a_negative():
    """Texts 0 and 1 describe image 0 (Flickr's 5 captions): s(0,1) = .85 would be image 0's
    hardest "negative text" and text 1's hardest "negative image"; marked as the same image,
    neither counts, and the remaining costs are the other negatives' (by hand)."""
    s = torch.tensor([[0.9, 0.85, 0.2],
                      [0.85, 0.9, 0.3],
                      [0.1, 0.2, 0.8]])
    same = torch.tensor([[True, True, False], [True, True, False], [False, False, True]])
    plain = contrastive_loss(s, margin=0.2).item()
    # rows: img0 -> text2 [.2-.9+.2]+=0; img1 -> text2 [.2-.9+.3]+=0; img2 -> text1 [.2-.8+.2]+=0
    # cols: text0 -> img2 [.2-.9+.1]+=0; text1 -> img2 [.2-.9+.2]+=0; text2 -> img1 [.2-.8+.3]+=0
    assert contrastive_loss(s, margin=0.2, same=same).item() == pytest.approx(0.0)
    assert plain == pytest.approx(4 * (0.2 - 0.9 + 0.85))


@pytest.mark.parametrize("text_encoder", ["phrase", "word"])
def test_gradients_flow_to_every_encoder(text_encoder):
    m = _model(text_encoder=text_encoder)
    feats = [np.random.default_rng(i).normal(size=(4, 12)).astype(np.float32) for i in range(3)]
    f, fm = pad_features(feats)
    tb = encode_texts(_vocab(), [["red circle", "blue square"], ["small green triangle"],
                                 ["large red square", "red circle", "blue square"]])
    loss = contrastive_loss(m(f, fm, tb), max_violation=False)
    loss.backward()
    assert loss.item() > 0
    for name, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert m.img_enc.fc.weight.grad.abs().sum() > 0
    assert m.txt_enc.embed.weight.grad.abs().sum() > 0


def test_phrase_region_loss_by_hand():
    """Two images with two regions each (unit vectors on axes), two texts of one phrase each.
    Phrase 0 ("cat", text 0) matches region e0 of image 0 (cos 1); image 1's best region for it
    is e1 (cos 0): no violation. Phrase 1 (text 1) is e2; its own image's best region is e3
    (cos .6 after mixing), image 0's best is e2 itself (cos 1): violation .2 - .6 + 1 = .6."""
    e = torch.eye(4)
    img = torch.stack([torch.stack([e[0], e[2]]), torch.stack([e[1], 0.6 * e[2] + 0.8 * e[3]])])
    mask = torch.ones(2, 2, dtype=torch.bool)
    txt = torch.stack([e[0][None], e[2][None]])
    tmask = torch.ones(2, 1, dtype=torch.bool)
    keys = torch.tensor([[0], [1]])
    loss = phrase_region_loss(img, mask, txt, tmask, keys, margin=0.2)
    assert loss.item() == pytest.approx(0.6 * 2 / 2)
    # If image 0's text also had phrase 1, image 0 is no negative for it: no loss at all.
    loss = phrase_region_loss(img, mask, txt, tmask, torch.tensor([[1], [1]]), margin=0.2)
    assert loss.item() == pytest.approx(0.0)
    # A padded region never wins: masking image 0's e2 region removes the violation.
    mask[0, 1] = False
    assert phrase_region_loss(img, mask, txt, tmask, keys, margin=0.2).item() == pytest.approx(0.0)


def test_fragment_loss_both_ways_by_hand():
    """Image 0's one region is e0 (text: phrase a = e0); image 1's region is .8 e0 + .6 e1
    (text: phrase b = e1). Each phrase fits its own image best by more than the margin (.1),
    so the phrase -> region direction costs nothing. But image 1's region scores phrase a
    (.8) above its own phrase b (.6): the region -> phrase direction costs .1 + .8 - .6."""
    e = torch.eye(2)
    img = torch.stack([e[0][None], (0.8 * e[0] + 0.6 * e[1])[None]])
    mask = torch.ones(2, 1, dtype=torch.bool)
    txt = torch.stack([e[0][None], e[1][None]])
    tmask = torch.ones(2, 1, dtype=torch.bool)
    keys = torch.tensor([[0], [1]])
    one_way = phrase_region_loss(img, mask, txt, tmask, keys, margin=0.1)
    both = phrase_region_loss(img, mask, txt, tmask, keys, margin=0.1, both_ways=True)
    assert one_way.item() == pytest.approx(0.0)
    assert both.item() == pytest.approx(0.3)
    # phrases that may name the same thing are never each other's negatives
    nested = phrase_region_loss(img, mask, txt, tmask, keys, margin=0.1, both_ways=True,
                                compatible=torch.ones(2, 2, dtype=torch.bool))
    assert nested.item() == pytest.approx(0.0)
    exact = phrase_region_loss(img, mask, txt, tmask, keys, margin=0.1, both_ways=True,
                               compatible=torch.eye(2, dtype=torch.bool))
    assert exact.item() == pytest.approx(0.3)


def test_phrase_keys_mark_nested_phrases_compatible():
    from artannot.retrieval.data import ArtworkItem, phrase_keys

    f = np.zeros((1, 2), np.float32)
    pk = phrase_keys([ArtworkItem("a", f, ["black dog", "ball"]), ArtworkItem("b", f, ["dog"]),
                      ArtworkItem("c", f, ["red ball", "black dog"])])
    assert pk.keys.tolist() == [[0, 1], [2, -1], [3, 0]]
    c = pk.compatible
    assert c.diagonal().all() and torch.equal(c, c.T)
    assert c[0, 2] and c[1, 3]  # "dog" in "black dog", "ball" in "red ball"
    assert not c[0, 1] and not c[2, 3] and not c[0, 3]
