"""The session report in a real browser: headless Chromium (Debian's ``chromium`` package)
renders the HTML at desktop and phone widths, prints it to PDF, and saves screenshots for
a person to look at.

Install the browser once with ``apt-get install -y chromium``; without ``/usr/bin/chromium``
these tests skip. Run them with ``python -m pytest -m slow tests/test_report_browser.py``.
Screenshots go to ``$REPORT_SCREENSHOTS`` if set, else to the test's temporary folder
(the path is printed; ``-s`` shows it).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report import report_session  # noqa: F401  (the real session, made once per module)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
# As root, in a sandbox with no network: no sandboxing, no GPU, and nothing that phones home
# (without the background-networking flags Chromium keeps retrying refused connections).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
DESKTOP = (1280, 2400)
PHONE = (390, 1600)
PHONE_BREAKPOINT = "(max-width: 640px)"


def _chromium(tmp: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium is not installed: apt-get install -y chromium (Debian's package)")
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def page(request, tmp_path_factory) -> Path:
    from engine.report import write_report

    if not CHROMIUM.exists():  # before the session is made: that takes a minute or two
        pytest.skip("headless Chromium is not installed: apt-get install -y chromium (Debian's package)")
    session = request.getfixturevalue("report_session")
    (html_file,) = write_report(session, tmp_path_factory.mktemp("browser"), formats=("html",))
    return html_file


@pytest.fixture(scope="module")
def shots_dir(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("REPORT_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _screenshot(page: Path, out: Path, size: tuple[int, int], tmp: Path) -> Path:
    result = _chromium(tmp, f"--window-size={size[0]},{size[1]}", f"--screenshot={out}", page.as_uri())
    assert out.is_file(), result.stderr[-2000:]
    print(f"screenshot: {out}")
    return out


def _not_blank(path: Path, size: tuple[int, int]) -> None:
    from PIL import Image

    with Image.open(path) as image:
        assert image.size == size
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 200, "the page rendered (nearly) blank"


@pytest.mark.parametrize("name, size", [("desktop", DESKTOP), ("phone", PHONE)])
def test_the_report_renders_in_chromium(page, shots_dir, tmp_path, name, size) -> None:
    shot = _screenshot(page, shots_dir / f"report-{name}.png", size, tmp_path)
    _not_blank(shot, size)


# Runs in the probe page once the report has loaded in its iframe: what is wider than the viewport,
# outside the boxes that are meant to scroll (tables and code)?
MEASURE = (
    """
document.getElementById('report').addEventListener('load', function () {
  var d = this.contentDocument, w = this.contentWindow, wide = [];
  function scrolls(e) { return e.parentElement && e.parentElement.closest('.table-wrap, pre'); }
  d.querySelectorAll('body *').forEach(function (e) {
    if (e.getBoundingClientRect().right > w.innerWidth + 0.5 && !scrolls(e)) wide.push(e.tagName + '.' + e.className);
  });
  var walk = d.createTreeWalker(d.body, NodeFilter.SHOW_TEXT), node;
  while ((node = walk.nextNode())) {
    var range = d.createRange(); range.selectNodeContents(node);
    if (range.getBoundingClientRect().right > w.innerWidth + 0.5 && !scrolls(node))
      wide.push('text: ' + node.textContent.slice(0, 60));
  }
  document.body.setAttribute('data-layout', JSON.stringify({
    scroll: d.documentElement.scrollWidth, width: w.innerWidth,
    phone: w.matchMedia('%s').matches, wide: wide.slice(0, 8)}));
});
"""
    % PHONE_BREAKPOINT
)


def test_on_a_phone_only_tables_and_code_scroll_sideways(page, tmp_path) -> None:
    """The page itself never scrolls sideways at phone width; wide tables and code scroll in their box.

    Headless Chromium will not make a window narrower than 500 px, so the report is laid out in
    a 390 px iframe, which has its own viewport (the phone media query applies inside it).
    """
    probe = tmp_path / "probe.html"
    probe.write_text(
        "<!DOCTYPE html><html><body style='margin:0'>"
        f"<iframe id='report' style='width:{PHONE[0]}px;height:{PHONE[1]}px;border:0' "
        f'srcdoc="{html.escape(page.read_text(encoding="utf-8"), quote=True)}"></iframe>'
        f"<script>{MEASURE}</script></body></html>",
        encoding="utf-8",
    )
    result = _chromium(tmp_path, "--window-size=1280,900", "--dump-dom", probe.as_uri())
    found = re.search(r'data-layout="([^"]*)"', result.stdout)
    assert found, result.stderr[-2000:]
    layout = json.loads(html.unescape(found.group(1)))
    assert layout["width"] == PHONE[0] and layout["phone"], layout
    assert layout["wide"] == [] and layout["scroll"] <= layout["width"], layout


def test_the_report_prints(page, shots_dir, tmp_path) -> None:
    pdf = shots_dir / "report.pdf"
    result = _chromium(tmp_path, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", page.as_uri())
    assert pdf.is_file(), result.stderr[-2000:]
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert data.startswith(b"%PDF") and pages >= 3, pages
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2", str(pdf), str(shots_dir / "report-print")],
            check=True,
        )
