"""A confusion matrix drawn with Pillow (already a torchvision dependency): no matplotlib at run time."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

CELL = 34
LABEL_WIDTH = 78


def confusion_image(confusion: list[list[int]], labels: list[str], title: str = "") -> np.ndarray:
    """``(C, C)`` counts (rows true, columns predicted) -> ``(H, W, 3)`` uint8 RGB heat map with counts."""
    counts = np.asarray(confusion, dtype=np.int64)
    n = counts.shape[0]
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    font = ImageFont.load_default()
    width = LABEL_WIDTH + n * CELL + 10
    height = 24 + LABEL_WIDTH + n * CELL
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((4, 4), title or "rows: true genre, columns: predicted", fill="black", font=font)
    top = 24 + LABEL_WIDTH
    for j, label in enumerate(labels):  # column labels, written vertically
        strip = Image.new("RGB", (LABEL_WIDTH - 4, CELL), "white")
        ImageDraw.Draw(strip).text((2, CELL // 2 - 6), label[:11], fill="black", font=font)
        image.paste(strip.rotate(90, expand=True), (LABEL_WIDTH + j * CELL, 24))
    for i, label in enumerate(labels):
        draw.text((4, top + i * CELL + CELL // 2 - 6), label[:11], fill="black", font=font)
        for j in range(n):
            level = share[i, j]
            colour = (int(255 - 225 * level), int(255 - 170 * level), int(255 - 75 * level))
            x, y = LABEL_WIDTH + j * CELL, top + i * CELL
            draw.rectangle([x, y, x + CELL - 1, y + CELL - 1], fill=colour, outline=(200, 200, 200))
            if counts[i, j]:
                draw.text((x + 4, y + CELL // 2 - 6), str(counts[i, j]), font=font,
                          fill="white" if level > 0.55 else "black")
    return np.asarray(image)


def confusion_png(confusion: list[list[int]], labels: list[str], title: str = "") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(confusion_image(confusion, labels, title)).save(buffer, format="PNG")
    return buffer.getvalue()
