"""“About models”: which detector, backbone and SCAN checkpoint are in use, and from where."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from artannot.retrieval.service import ModelInfo


def models_html(info: ModelInfo | None, registered: list | None = None,
                checkpoint_meta: dict | None = None) -> str:
    if info is None:
        return "<p>No collection is open.</p>"
    e = html.escape
    meta = info.details.get("store_meta") or {}
    det, ext = meta.get("detector") or {}, meta.get("backbone") or {}
    rows = [
        ("Detector", f"{info.detector} (params {e(str(det.get('params', {})))})"),
        ("Backbone", (f"{info.backbone}, {ext.get('dim', meta.get('dim', '?'))}-d, "
                      f"sha256 {str(ext.get('sha256') or '—')[:16]}…")),
        ("Device", info.device),
        ("Feature store", info.store or "none yet — run Detect regions"),
        ("SCAN checkpoint", info.scan or "none yet — train one from the Suggestions panel"),
    ]
    if info.scan:
        rows.append(("Checkpoint sha256", str(info.details.get("checkpoint_sha256", ""))[:16] + "…"))
    for k, v in (checkpoint_meta or {}).items():
        rows.append((k, str(v)))
    out = ["<h3>Models in use</h3><table cellspacing='4'>"]
    out += [f"<tr><td><b>{e(k)}</b></td><td>{e(str(v))}</td></tr>" for k, v in rows]
    out.append("</table>")
    if registered:
        out.append("<h3>Model manager</h3><table cellspacing='4'>")
        for s in registered:
            state = "bundled" if s.bundled else ("installed" if s.installed else "missing")
            out.append(f"<tr><td>{e(s.name)}</td><td>{e(s.role)}</td><td>{e(s.architecture)}</td>"
                       f"<td>{state}</td><td>{e(s.source or '')}</td></tr>")
        out.append("</table>")
    return "".join(out)


def checkpoint_summary(path: str | None) -> dict:
    """Epochs, validation rsum and main options of a SCAN checkpoint (cheap enough for a dialog)."""
    if not path:
        return {}
    from artannot.retrieval.checkpoint import load_checkpoint

    try:
        ck = load_checkpoint(path)
    except Exception as exc:  # noqa: BLE001 - shown, not raised
        return {"Checkpoint problem": str(exc)}
    c = ck.config
    return {"Trained": f"{ck.epoch} epochs, best val rsum {ck.best_rsum:.1f}",
            "SCAN": f"{c.cross_attn} {c.agg}, {c.text_encoder} encoder, embed {c.embed_size}, "
                    f"{len(ck.vocab.phrases)} phrases"}


class ModelsDialog(QDialog):
    def __init__(self, info: ModelInfo | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About models")
        try:
            from artannot.models import ModelManager

            registered = ModelManager().list()
        except Exception:  # noqa: BLE001 - an unreadable registry must not hide the rest
            registered = []
        self.text = QTextBrowser()
        self.text.setHtml(models_html(info, registered, checkpoint_summary(info.scan if info else None)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(760, 460)
