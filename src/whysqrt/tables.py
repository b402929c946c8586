"""Multi-number tables built in code and glued whole: ``ws.table(header, rows, caption=...)``.

A chapter pastes the result with ```{paste} key```; the table displays as

* ``text/html``: an accessible ``<table>`` (``<caption>``, ``<thead>``, ``<th scope="col">``
  for the header and ``<th scope="row">`` for the first cell of every row), everything escaped;
* ``text/markdown``: a pipe table (for Jupyter);
* ``text/plain``: aligned columns (for the terminal and the determinism check).

A cell is a string (shown as is), a number (formatted with the column's format) or a pair
``(value, standard_error)`` shown as ``value ± se``. Used by ``softmax-sharpness``.
"""

from __future__ import annotations

import html
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["Table", "table"]


def _format_cell(cell, fmt: str) -> str:
    if isinstance(cell, str):
        return cell
    if isinstance(cell, tuple):
        value, se = cell
        return f"{_format_cell(value, fmt)} ± {_format_cell(se, fmt)}"
    x = float(cell)
    return format(int(round(x)) if fmt.endswith("d") else x, fmt)


def _check_cell(cell, where: str) -> None:
    if isinstance(cell, str):
        if "\n" in cell or "\r" in cell:
            raise ValueError(f"rows{where} must be one line of text (no line breaks)")
        return
    if isinstance(cell, tuple):
        if len(cell) != 2 or any(isinstance(x, (str, tuple)) for x in cell):
            raise ValueError(f"rows{where} must be a (value, standard error) pair of numbers")
        for x in cell:
            _check_cell(x, where)
        return
    if isinstance(cell, (bool, np.bool_)) or not isinstance(cell, numbers.Real):
        raise TypeError(f"rows{where} must be a string, a number or a (value, se) pair")
    if not np.isfinite(float(cell)):
        raise ValueError(f"rows{where} must be finite, got {cell!r}")


@dataclass(frozen=True)
class Table:
    """A validated table of formatted cells; see :func:`table`."""

    header: tuple[str, ...]
    cells: tuple[tuple[str, ...], ...]
    caption: str | None = None

    def translated(self, lang: str) -> Table:
        """The same numbers with the caption in ``lang``, and the column titles and row
        labels where the catalogue has them (titles made from numbers, such as
        ``d_model = 768``, and code names stay as they are)."""
        from .i18n import tr

        def label(text: str) -> str:
            try:
                return tr(text, lang)
            except ValueError:
                return text

        return Table(
            tuple(label(h) for h in self.header),
            tuple((label(row[0]), *row[1:]) for row in self.cells),
            tr(self.caption, lang) if self.caption else self.caption,
        )

    def html(self) -> str:
        e = html.escape
        head = "".join(f'<th scope="col">{e(h)}</th>' for h in self.header)
        body = "".join(
            f'<tr><th scope="row">{e(row[0])}</th>'
            + "".join(f"<td>{e(c)}</td>" for c in row[1:])
            + "</tr>"
            for row in self.cells
        )
        cap = f"<caption>{e(self.caption)}</caption>" if self.caption else ""
        return (
            '<div class="ws-table" style="overflow-x:auto"><table class="table">'
            f"{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        )

    def markdown(self) -> str:
        def line(cells):
            return "| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |"

        out = [line(self.header), "|" + "---|" * len(self.header)]
        out += [line(row) for row in self.cells]
        if self.caption:
            out = [self.caption, ""] + out
        return "\n".join(out)

    def text(self) -> str:
        rows = [self.header, *self.cells]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.header))]
        out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(([self.caption] if self.caption else []) + out)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {
            "text/html": self.html(),
            "text/markdown": self.markdown(),
            "text/plain": self.text(),
        }


def table(header, rows, caption: str | None = None, *, fmt=".3f") -> Table:
    """A table to glue whole: ``header`` (column titles), ``rows`` (one sequence per row).

    Every row has one cell per header entry; the first cell of a row is its label.
    ``fmt`` is one format spec for every number (``".3f"``) or one per column (a string
    column's spec is ignored). Raises ``ValueError``/``TypeError`` naming the bad argument.
    Example: ``ws.table(["d_k", "largest weight"], [[64, (0.71, 0.01)]], fmt=["d", ".2f"])``.
    """
    if isinstance(header, str) or not all(isinstance(h, str) for h in header):
        raise TypeError("header must be a sequence of strings")
    header = tuple(header)
    if not header:
        raise ValueError("header must name at least one column")
    if isinstance(rows, str) or not hasattr(rows, "__iter__"):
        raise TypeError("rows must be a sequence of rows")
    rows = [tuple(r) if not isinstance(r, str) else r for r in rows]
    if not rows:
        raise ValueError("rows must hold at least one row")
    fmts = (fmt,) * len(header) if isinstance(fmt, str) else tuple(fmt)
    if len(fmts) != len(header) or not all(isinstance(f, str) for f in fmts):
        raise ValueError("fmt must be one format string or one per column")
    try:
        for f in fmts:
            format(1 if f.endswith("d") else 1.0, f)
    except ValueError as exc:
        raise ValueError(f"fmt holds an invalid format spec: {exc}") from exc
    cells = []
    for i, row in enumerate(rows):
        if isinstance(row, str) or len(row) != len(header):
            raise ValueError(f"rows[{i}] must have {len(header)} cells, one per header entry")
        for j, cell in enumerate(row):
            _check_cell(cell, f"[{i}][{j}]")
        cells.append(tuple(_format_cell(c, f) for c, f in zip(row, fmts)))
    if caption is not None and (not isinstance(caption, str) or not caption.strip()):
        raise ValueError("caption must be a non-empty string or None")
    return Table(header, tuple(cells), caption)
