"""``ws.glue`` publishes what ``myst_nb.glue`` publishes, without importing nbformat."""

import subprocess
import sys

import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from myst_nb import glue as myst_glue

import whysqrt as ws


def published(glue_fn, name, value, display):
    InteractiveShell.instance()
    with capture_output() as cap:
        glue_fn(name, value, display=display)
    return [(out.data, out.metadata) for out in cap.outputs]


VALUES = [
    0.125,
    7,
    "1/8",
    float(np.float64(2.5)),
    ws.math(r"\sqrt{d_k}"),
    ws.table(["d_k", "var"], [[8, 8.1], [64, 63.9]], caption="A table."),
]


@pytest.mark.parametrize("display", [False, True])
@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_same_output_as_myst_nb(value, display):
    ours = published(ws.glue, "key", value, display)
    theirs = published(myst_glue, "key", value, display)
    assert ours == theirs
    assert ours and ours[0][1]["scrapbook"]["name"] == "key"


def test_a_hidden_value_carries_the_record_prefix():
    ((data, _),) = published(ws.glue, "k", 0.5, display=False)
    assert set(data) == {ws.interactive.GLUE_PREFIX + "text/plain"}


@pytest.mark.parametrize("name", ["", None, 3])
def test_bad_name_is_refused(name):
    with pytest.raises(ValueError, match="name"):
        ws.glue(name, 1.0)


def test_glue_does_not_import_nbformat():
    """What it is for: myst_nb's glue costs 1.7 s of jsonschema imports per kernel."""
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance()\n"
        "import whysqrt as ws\n"
        "ws.glue('x', 1.0, display=False)\n"
        "print(sorted(m for m in ('nbformat', 'jsonschema') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
