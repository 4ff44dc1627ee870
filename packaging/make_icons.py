"""Draw the artannot icon (a picture frame with a dashed annotation box) with PIL.

    .venv/bin/python packaging/make_icons.py      # writes resources/icons/artannot-<N>.png + .svg

Each size is drawn at 4x and downsampled, so small sizes stay crisp enough.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZES = (16, 32, 48, 64, 128, 256)
ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
FRAME, MAT, SKY, HILL, BOX = "#8a5a2b", "#f3ead8", "#9cc3e6", "#5b8c4a", "#e0452b"

SVG = f"""<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <title>artannot</title>
  <rect x="8" y="8" width="240" height="240" rx="16" fill="{FRAME}"/>
  <rect x="32" y="32" width="192" height="192" fill="{MAT}"/>
  <rect x="44" y="44" width="168" height="168" fill="{SKY}"/>
  <path d="M44 212 L44 160 Q96 110 140 150 Q176 124 212 150 L212 212 Z" fill="{HILL}"/>
  <circle cx="168" cy="88" r="18" fill="#f6d04d"/>
  <rect x="76" y="100" width="104" height="84" fill="none" stroke="{BOX}" stroke-width="12"/>
</svg>
"""


def draw(size: int) -> Image.Image:
    s = size * 4
    k = s / 256
    im = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    d.rounded_rectangle([8 * k, 8 * k, 248 * k, 248 * k], radius=16 * k, fill=FRAME)
    d.rectangle([32 * k, 32 * k, 224 * k, 224 * k], fill=MAT)
    d.rectangle([44 * k, 44 * k, 212 * k, 212 * k], fill=SKY)
    d.polygon([(44 * k, 212 * k), (44 * k, 160 * k), (96 * k, 128 * k), (140 * k, 150 * k),
               (176 * k, 132 * k), (212 * k, 150 * k), (212 * k, 212 * k)], fill=HILL)
    d.ellipse([150 * k, 70 * k, 186 * k, 106 * k], fill="#f6d04d")
    width = max(int(12 * k), 6)  # keep the box visible at 16 px
    d.rectangle([76 * k, 100 * k, 180 * k, 184 * k], outline=BOX, width=width)
    return im.resize((size, size), Image.LANCZOS)


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        draw(size).save(ICONS / f"artannot-{size}.png", optimize=True)
    draw(256).save(ICONS / "artannot.png", optimize=True)
    (ICONS / "artannot.svg").write_text(SVG, encoding="utf-8")
    draw(256).save(ICONS / "artannot.ico", sizes=[(s, s) for s in SIZES])


if __name__ == "__main__":
    main()
