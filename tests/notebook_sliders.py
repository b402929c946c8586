"""The book's sliders as the notebooks declare them: every ``ws.interact(...)`` call.

Tests import this module so they check exactly the frames the book shows, and stay in
step when a notebook adds, drops or changes a slider. A call is read from the
notebook's source (``ast``), then its figure function, alt-text function and grid are
evaluated with the names of the notebook's first cell (its imports). A call that needs
a variable computed further down the notebook (e.g. an experiment's result) cannot be
evaluated on its own; :data:`NOT_STANDALONE` lists those.
"""

from __future__ import annotations

import ast
import builtins
import json
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_GRID = {"alt", "caption", "labels", "initial", "fixed", "look_for"}


@dataclass
class Slider:
    stem: str
    name: str  # the variable the notebook assigns it to
    func: object
    alt: object
    grid: dict
    initial: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    look_for: str = ""

    @property
    def id(self) -> str:
        return f"{self.stem}-{self.name}"


def _cells(stem: str) -> list[str]:
    nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _calls(source: str):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value
            if isinstance(call.func, ast.Attribute) and call.func.attr == "interact":
                yield node.targets[0].id, call


def _read(stem: str, sources: list[str]) -> tuple[list[Slider], list[str]]:
    env: dict = {}
    exec(sources[0], env)  # the notebook's imports: ws, np, sp, aliases
    found, skipped = [], []
    for source in sources:
        for name, call in _calls(source):
            kw = {k.arg: k.value for k in call.keywords}

            def value(node):
                return eval(compile(ast.Expression(node), stem, "eval"), dict(env))

            bound = set(env) | set(dir(builtins))
            params = set()
            for node in ast.walk(call):
                if isinstance(node, ast.Lambda):
                    params |= {a.arg for a in node.args.args}
            missing = sorted(
                {n.id for n in ast.walk(call) if isinstance(n, ast.Name)} - bound - params
            )
            if missing:
                skipped.append(f"{stem}-{name}: needs {', '.join(missing)}")
                continue
            func, alt = value(call.args[0]), value(kw["alt"])
            grid = {n: tuple(value(e)) for n, e in kw.items() if n not in NOT_GRID}
            extra = {n: value(kw[n]) for n in ("initial", "labels", "look_for") if n in kw}
            found.append(Slider(stem, name, func, alt, grid, **extra))
    return found, skipped


def notebook_sliders(stems=None) -> list[Slider]:
    """Every evaluable slider of the given notebooks (default: all)."""
    stems = stems or sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    out = []
    for stem in stems:
        out += _read(stem, _cells(stem))[0]
    return out


def not_standalone() -> list[str]:
    """The sliders whose call needs the notebook's own variables, with the missing name."""
    out = []
    for stem in sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")):
        out += _read(stem, _cells(stem))[1]
    return out


#: Sliders drawn from an experiment the notebook runs first: the standalone checks
#: (clipping, alt text) leave them out.
NOT_STANDALONE = [
    "dot-vs-additive-spread_slider",  # its look-for pastes the computed saturated share
    "softmax-sharpness-temperature",
    "why-sqrt-sweep_slider",
    "why-sqrt-tradeoff_slider",
]
