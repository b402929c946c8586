"""Frames out of the page (whysqrt.sphinx_frames) and what each kind of static control means.

* ``externalise`` moves a slider's frames and every inline PNG into files, keeps the
  markup otherwise intact, and gives images their height (no layout shift);
* in headless Chromium, a page built from a real :class:`whysqrt.interactive.Interactive`
  and its externalised files: every control of the static slider shows the frame the live
  widget would show for the same state (a ticked box is ``True`` whatever order the grid
  lists its values in), and the frames file is requested only when the figure nears
  the viewport.
"""

import base64
import json
import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from conftest import serve_directory
from whysqrt.interactive import interact
from whysqrt.sphinx_frames import FOLDER, externalise, png_size


def _bars(shared: bool, width: int, flip: bool) -> Figure:
    """A tiny figure whose pixels differ for every state of the three controls."""
    fig = Figure(figsize=(2.0, 1.0), dpi=50)
    ax = fig.add_subplot()
    ax.bar([0, 1, 2], [1 + shared, width, 3 - 2 * flip])
    ax.set_ylim(0, 8)
    return fig


def _slider(grid_shared=(True, False), grid_flip=(False, True)):
    return interact(
        _bars,
        shared=list(grid_shared),
        width=[1, 2, 4],
        flip=list(grid_flip),
        alt=lambda shared, width, flip: f"bars shared={shared} width={width} flip={flip}",
        caption="test slider",
        look_for="the bars move",
    )


def test_externalise_moves_frames_and_images_and_keeps_the_rest():
    markup = _slider().static_html(all_frames=True)
    new, files = externalise(markup, prefix="../")
    assert "data:image/png" not in new and "ws-frames" not in new
    (js,) = [p for p in files if p.endswith(".js")]
    (png,) = [p for p in files if p.endswith(".png")]
    assert js.startswith(FOLDER + "/") and f'data-frames="../{js}"' in new
    assert f'src="../{png}"' in new and 'loading="lazy"' in new
    # the file holds exactly the payload the inline script held
    payload = re.search(r'class="ws-frames">(.*?)</script>', markup, re.S).group(1)
    body = files[js].decode()
    assert body.endswith(f"= {payload};\n") and json.loads(payload)["order"] == [
        "shared",
        "width",
        "flip",
    ]
    # width kept as shown, height scaled to it, so the box is reserved before the pixels
    w, h = png_size(files[png])
    shown_w = int(re.search(r'<img[^>]*\swidth="(\d+)"', new).group(1))
    shown_h = int(re.search(r'<img[^>]*\sheight="(\d+)"', new).group(1))
    assert abs(shown_h - h * shown_w / w) <= 1
    # everything else (controls, caption, look-for line) is untouched
    for part in ('type="checkbox"', 'type="range"', "test slider", "the bars move"):
        assert part in new


def test_externalise_leaves_markup_without_pixels_alone():
    markup = '<p>no figures <img src="x.png" alt="a"></p>'
    assert externalise(markup) == (markup, {})


def test_png_size_refuses_what_is_not_a_png():
    with pytest.raises(ValueError, match="^png"):
        png_size(b"GIF89a" + bytes(30))


@pytest.fixture(scope="module")
def slider_site(tmp_path_factory):
    """A page with two sliders (grids listing True first and last) and the site's script,
    externalised as the site build does, served from localhost."""
    from whysqrt import sphinx_frames
    from whysqrt.interactive import Interactive

    root = tmp_path_factory.mktemp("site")
    sliders = {"true-first": _slider(), "false-first": _slider((False, True), (True, False))}
    body = []
    for name, s in sliders.items():
        markup, files = externalise(s.static_html(all_frames=True))
        for path, data in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
        # the second slider sits below a tall spacer: its frames must wait
        body.append(f'<div data-name="{name}">{markup}</div><div style="height:5000px"></div>')
    script = (
        sphinx_frames.Path(sphinx_frames.__file__).parent / "static" / "whysqrt-slider.js"
    ).read_text()
    (root / "slider.js").write_text(script)
    (root / "index.html").write_text(
        "<!doctype html><html><head><script defer src='slider.js'></script></head>"
        f"<body>{''.join(body)}</body></html>"
    )

    assert all(isinstance(s, Interactive) for s in sliders.values())
    with serve_directory(root) as url:
        yield f"{url}/index.html", sliders


def _src_for(slider, **params) -> str:
    """The frame the live widget shows for ``params``, as the static page's data URI."""
    png, _ = slider._frame(params)
    return "data:image/png;base64," + base64.b64encode(png).decode()


@pytest.mark.site
def test_every_static_control_means_what_the_live_widget_means(browser, slider_site):
    url, sliders = slider_site
    page = browser.new_page(viewport={"width": 900, "height": 700})
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(url, wait_until="load")
    page.wait_for_timeout(300)
    frames_files = [u for u in requested if u.endswith(".js") and f"/{FOLDER}/" in u]
    assert len(frames_files) == 1, f"only the first screen's frames load with the page: {requested}"
    rng = np.random.default_rng(0)
    for name, slider in sliders.items():
        fig = page.locator(f'[data-name="{name}"] figure.ws-slider')
        fig.scroll_into_view_if_needed()
        img = fig.locator("img.ws-frame")
        box = fig.locator('input[type="checkbox"]')
        rng_input = fig.locator('input[type="range"]')
        widths = slider.grid["width"]
        # a random walk over every control, checking the frame after each step
        for _ in range(12):
            which = rng.integers(3)
            if which == 0:
                rng_input.focus()
                rng_input.press(["ArrowLeft", "ArrowRight"][rng.integers(2)])
            else:
                box.nth(which - 1).focus()
                box.nth(which - 1).press("Space")
            state = {
                "shared": box.nth(0).is_checked(),
                "width": widths[int(rng_input.input_value())],
                "flip": box.nth(1).is_checked(),
            }
            page.wait_for_function(
                "([img, src]) => img.src === src",
                arg=[img.element_handle(), _src_for(slider, **state)],
                timeout=3000,
            )
            assert img.get_attribute("alt") == slider.alt(**state)
    page.close()
