"""The committed notebook as people see it: exported to HTML, opened in headless Chromium.

A probe script added to the page runs when it has loaded, measures every image
the page shows (loaded, and not one flat colour) and counts error and stderr
outputs; Chromium's --dump-dom hands its findings back. On failure a
screenshot of the page is saved to test-artifacts/notebook.png.
"""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-quic"]
PROBE = """
<script>
window.addEventListener("load", () => {
  const images = [...document.querySelectorAll(".jp-OutputArea-output img")].map((img) => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    let contrast = 0;
    if (img.naturalWidth > 0) {
      context.drawImage(img, 0, 0);
      const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
      let low = 255, high = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        const grey = (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
        low = Math.min(low, grey);
        high = Math.max(high, grey);
      }
      contrast = high - low;
    }
    return {width: img.naturalWidth, height: img.naturalHeight, contrast: contrast};
  });
  const errors = document.querySelectorAll(
    '[data-mime-type="application/vnd.jupyter.stderr"], .jp-OutputArea-output .ansi-red-fg').length;
  const report = document.createElement("pre");
  report.id = "browser-check";
  report.textContent = JSON.stringify({images: images, errors: errors});
  document.body.appendChild(report);
});
</script>
"""


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium; .ci/run does this), "
                "so the notebook was not checked in a browser")


def test_every_figure_shows_and_no_cell_shows_an_error(tmp_path):
    browser = chromium()
    notebook = nbformat.read(ROOT / "A3_VAE.ipynb", as_version=4)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    n_figures = sum("image/png" in o.get("data", {}) for o in outputs)
    assert n_figures >= 8, "the committed notebook is executed, with its figures"
    assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"]

    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--output-dir",
                    str(tmp_path), str(ROOT / "A3_VAE.ipynb")], check=True, capture_output=True)
    page = tmp_path / "A3_VAE.html"
    page.write_text(page.read_text().replace("</body>", PROBE + "</body>"))

    dom = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--virtual-time-budget=30000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=300).stdout
    found = re.search(r'<pre id="browser-check">(.*?)</pre>', dom, re.S)
    try:
        assert found, "the probe did not report: the page did not load"
        report = json.loads(found.group(1).replace("&quot;", '"'))
        blank = [i for i, image in enumerate(report["images"]) if image["width"] == 0 or image["contrast"] < 10]
        assert len(report["images"]) == n_figures, f"{len(report['images'])} of {n_figures} figures on the page"
        assert not blank, f"blank or broken figures (by position on the page): {blank}"
        assert report["errors"] == 0, f"{report['errors']} outputs show an error or stderr"
    except AssertionError:
        ARTIFACTS.mkdir(exist_ok=True)
        subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}",
                        "--window-size=1280,20000", f"--screenshot={ARTIFACTS / 'notebook.png'}",
                        page.as_uri()], capture_output=True, timeout=300)
        raise
