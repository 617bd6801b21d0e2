"""mlci's HTML reports render as intended under the Content Security Policy Jenkins serves
archived and published files with: a real headless Chromium loads a report from a server that
sends Jenkins' default header, and the screenshot must show the stylesheet applied (the green of
a passed badge). The same page with its style inline is the control: the policy blocks it."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlci import reports

JENKINS_CSP = "sandbox; default-src 'none'; img-src 'self'; style-src 'self';"
PASS_GREEN = (0x11, 0x77, 0x2B)  # .pass in reports.STYLE


class CspHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", JENKINS_CSP)
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    root = tmp_path / "site"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(CspHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield root, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def green_pixels(url: str, shot: Path) -> int:
    argv = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    argv += ["--window-size=900,500", "--virtual-time-budget=3000", f"--screenshot={shot}", url]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    assert shot.is_file(), proc.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as image:
        data = image.convert("RGB").tobytes()
    pixels = zip(data[0::3], data[1::3], data[2::3], strict=True)
    return sum(1 for r, g, b in pixels if abs(r - PASS_GREEN[0]) + abs(g - PASS_GREEN[1]) + abs(b - PASS_GREEN[2]) < 40)


def test_a_report_keeps_its_style_under_jenkins_default_csp(served: tuple[Path, str], tmp_path: Path) -> None:
    root, url = served
    body = reports.html_table(["check", "result"], [["accuracy_score", reports.status(True)]] * 5)
    page = reports.write_html(root / "report.html", "Validation of churn", body)
    assert "<style" not in page.read_text() and "style=" not in page.read_text()
    (root / "inline.html").write_text(
        page.read_text().replace(f'<link rel="stylesheet" href="{reports.CSS}">', f"<style>{reports.STYLE}</style>")
    )
    shot = tmp_path / "report.png"
    styled = green_pixels(f"{url}/report.html", shot)
    print(f"screenshot under Jenkins' CSP: {shot} ({styled} pixels of the passed badge's green)")
    inline = green_pixels(f"{url}/inline.html", tmp_path / "inline.png")
    assert inline == 0  # the control: an inline <style> is refused by the policy
    assert styled > 50, f"the stylesheet did not apply under {JENKINS_CSP!r}: see {shot}"
