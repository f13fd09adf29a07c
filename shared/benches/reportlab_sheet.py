"""The peer of the sheet benchmark: draws the same sheets with reportlab.

`sheet_batch.rs` writes the sheets' layouts (shared/src/sheet/layout.rs, serialised: the very
marks our writer draws) to a JSON file and runs this script in the same run, alternating with
its own renders. Each sheet is drawn as our writer draws it: the same text at the same places in
the same TrueType font (reportlab subsets it), the grey box, the bars as one filled path, one
A4 page, compressed. Prints one JSON line: the first sheet's time (font registration included),
then each later sheet's time in microseconds and size in bytes.

Usage: python reportlab_sheet.py LAYOUTS.json FONT.ttf
"""

import io
import json
import sys
import time

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas


def draw(layout):
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    c.setTitle(layout["title"])
    c.setProducer("reportlab")
    for m in layout["marks"]:
        kind = m["kind"]
        if kind == "text":
            c.setFont("Sheet", m["size"])
            c.drawString(m["x"] * mm, m["y"] * mm, m["text"])
        elif kind == "box":
            c.setFillGray(m["grey"])
            c.rect(m["x"] * mm, m["y"] * mm, m["w"] * mm, m["h"] * mm, stroke=0, fill=1)
            c.setFillGray(0)
        elif kind == "bars":
            c.setFillGray(0)
            path = c.beginPath()
            x, y, module, height = m["x"], m["y"], m["module"], m["height"]
            for start, width in m["bars"]:
                path.rect((x + start * module) * mm, y * mm, width * module * mm, height * mm)
            c.drawPath(path, stroke=0, fill=1)
    c.showPage()
    c.save()
    return out.getvalue()


def main():
    layouts_path, font_path = sys.argv[1], sys.argv[2]
    with open(layouts_path, encoding="utf-8") as f:
        layouts = json.load(f)
    start = time.perf_counter()
    pdfmetrics.registerFont(TTFont("Sheet", font_path))
    first = draw(layouts[0])
    first_us = (time.perf_counter() - start) * 1e6
    times, sizes = [], [len(first)]
    for layout in layouts[1:]:
        t = time.perf_counter()
        pdf = draw(layout)
        times.append((time.perf_counter() - t) * 1e6)
        sizes.append(len(pdf))
    if len(sys.argv) > 3:
        with open(sys.argv[3], "wb") as f:
            f.write(first)
    print(json.dumps({"first_us": first_us, "times_us": times, "sizes": sizes}))


if __name__ == "__main__":
    main()
