"""One self-contained HTML page: inline CSS, figures as inline base64 PNG (``data:`` URIs),
no scripts and no reference to anything outside the file, so it opens offline."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from contract.files import atomic_path

STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 80em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #bbb; padding: 0.2em 0.6em; text-align: left; vertical-align: top; }
th { background: #eee; }
figure { margin: 1em 0; } figcaption { font-size: 0.9em; color: #555; }
img { max-width: 100%; } pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; }
.bad { color: #b00; font-weight: bold; } .good { color: #070; font-weight: bold; }
"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def figure_png(fig, dpi: int = 80) -> bytes:
    """The PNG bytes of a matplotlib figure, which is closed afterwards."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buf.getvalue()


class Page:
    """An HTML page built section by section; ``write`` stores it atomically."""

    def __init__(self, title: str):
        self.title = title
        self.parts: list[str] = []

    def section(self, ident: str, heading: str) -> None:
        self.parts.append(f'<h2 id="{esc(ident)}">{esc(heading)}</h2>')

    def paragraph(self, text: str, cls: str | None = None) -> None:
        attr = f' class="{esc(cls)}"' if cls else ""
        self.parts.append(f"<p{attr}>{esc(text)}</p>")

    def table(self, rows, header=None) -> None:
        """``rows``: sequences of cells (escaped); ``header``: the column names."""
        out = ["<table>"]
        if header:
            out.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            out.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
        self.parts.append("".join(out) + "</table>")

    def preformatted(self, lines) -> None:
        self.parts.append("<pre>" + esc("\n".join(lines)) + "</pre>")

    def figure(self, fig, caption: str, dpi: int = 80) -> None:
        """Embed a matplotlib figure as an inline PNG (and close it)."""
        data = base64.b64encode(figure_png(fig, dpi)).decode("ascii")
        self.parts.append(f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,'
                          f'{data}"><figcaption>{esc(caption)}</figcaption></figure>')

    def html(self) -> str:
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{esc(self.title)}</title><style>{STYLE}</style></head>\n<body>"
                f"<h1>{esc(self.title)}</h1>\n" + "\n".join(self.parts) + "\n</body></html>\n")

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_path(path, suffix=".html") as tmp:
            tmp.write_text(self.html(), encoding="utf-8")
        return path
