"""Sphinx extension: the pages load their figures' pixels only when a reader needs them.

A notebook's static slider (:meth:`whysqrt.interactive.Interactive.static_html`) carries
every frame inline, as base64 PNGs in a JSON ``<script>``, and a pasted figure is an inline
``data:`` PNG. That keeps a notebook output self-contained, but on the site it made every
frame of every slider part of the page: most of a chapter's bytes (issue 20). For the
HTML builder this extension moves them out of the page:

* a slider's frames go to ``_static/ws/<figure id>-<hash>.js`` (``window.wsFrames[id] = {...}``),
  named by the figure's ``data-frames`` attribute; ``static/whysqrt-slider.js`` loads that
  file with a plain ``<script>`` element when the figure comes near the viewport or a
  control is touched, which works offline and from ``file://``;
* every inline PNG (a slider's first frame, a pasted figure) goes to
  ``_static/ws/<hash>.png`` with ``loading="lazy"`` and its width *and* height, so the
  browser reserves its box before the pixels arrive (no layout shift).

The single-page build that the PDF edition is printed from keeps everything inline, so no
image is missing when Chromium prints it. :func:`externalise` is the pure part, tested in
``tests/test_sphinx_frames.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
import struct
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx

#: Folder, relative to the site root, that receives the frames and images.
FOLDER = "_static/ws"
_FIGURE = re.compile(r'<figure class="ws-slider" id="(ws-[0-9a-f]+)"')
_PAYLOAD = re.compile(r'<script type="application/json" class="ws-frames">(.*?)</script>', re.S)
_DATA_IMG = re.compile(r'<img\b([^>]*?)\ssrc="data:image/png;base64,([A-Za-z0-9+/=]+)"([^>]*)>')
_WIDTH = re.compile(r'\swidth="(\d+)"')


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("png: not a PNG image")
    return struct.unpack(">II", png[16:24])


def externalise(markup: str, prefix: str = "") -> tuple[str, dict[str, bytes]]:
    """Move inline slider frames and PNGs out of ``markup``.

    Returns the new markup, whose URLs start with ``prefix`` (the way from the page to
    the site root, e.g. ``"../"``), and the files to write, keyed by their path from the
    site root. Markup without inline frames or PNGs comes back unchanged.
    """
    files: dict[str, bytes] = {}

    def frames(fig_match: re.Match, text: str) -> str:
        uid = fig_match.group(1)
        payload = _PAYLOAD.search(text, fig_match.end())
        if payload is None:
            return text
        body = payload.group(1)
        # named by content too: a rebuilt page never reads an older build's frames
        path = f"{FOLDER}/{uid}-{hashlib.sha1(body.encode()).hexdigest()[:8]}.js"
        files[path] = (
            f"(window.wsFrames = window.wsFrames || {{}})[{json.dumps(uid)}] = {body};\n".encode()
        )
        text = text[: payload.start()] + text[payload.end() :]
        attr = f' data-frames="{prefix}{path}"'
        return text[: fig_match.end()] + attr + text[fig_match.end() :]

    for fig_match in reversed(list(_FIGURE.finditer(markup))):
        markup = frames(fig_match, markup)

    def image(m: re.Match) -> str:
        before, data, after = m.groups()
        png = base64.b64decode(data)
        path = f"{FOLDER}/{hashlib.sha1(png).hexdigest()[:16]}.png"
        files[path] = png
        w, h = png_size(png)
        attrs = before + after
        shown = _WIDTH.search(attrs)
        if shown:
            h = round(h * int(shown.group(1)) / w)
            attrs = _WIDTH.sub("", attrs)
            w = int(shown.group(1))
        attrs = attrs.rstrip(" /")
        return (
            f'<img{attrs} src="{prefix}{path}" width="{w}" height="{h}" '
            f'loading="lazy" decoding="async">'
        )

    return _DATA_IMG.sub(image, markup), files


def _on_doctree_resolved(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if app.builder.name not in ("html", "dirhtml"):
        return  # the single page the PDF is printed from keeps its pixels inline
    page = app.builder.get_target_uri(docname)
    prefix = posixpath.relpath(".", posixpath.dirname(page) or ".") + "/"
    prefix = "" if prefix == "./" else prefix
    out = Path(app.outdir)
    for node in list(doctree.findall(nodes.raw)):
        if "html" not in node.get("format", "").split():
            continue
        text = node.astext()
        if "data:image/png;base64," not in text and "ws-frames" not in text:
            continue
        new, files = externalise(text, prefix)
        for path, data in files.items():
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        node.replace_self(nodes.raw(new, new, format="html", classes=node.get("classes", [])))


def setup(app: Sphinx) -> dict:
    app.connect("doctree-resolved", _on_doctree_resolved)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
