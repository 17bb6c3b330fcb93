"""readiness.html in a real browser: headless Chromium renders it to a PNG that shows the page, not a blank."""
from __future__ import annotations

import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from pathlib import Path

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._report.html import render_html
from ansible_collections.scanready.windows.plugins.module_utils._report.model import parse_result

from tests.unit.test_report import HOSTILE, SETTINGS, fleet_result

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")

Pixel = tuple[int, int, int]


def screenshot(page: Path, png: Path, size: str = "1400,1000") -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={size}",
                        page.as_uri()], capture_output=True, timeout=120, check=True)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _add_bytes(a: bytes, b: bytes) -> bytearray:
    """Byte-wise (a + b) mod 256 of two equal-length byte strings, without a Python loop per byte."""
    n, low7 = len(a), int.from_bytes(b"\x7f" * len(a))
    x, y = int.from_bytes(a), int.from_bytes(b)
    return bytearray((((x & low7) + (y & low7)) ^ ((x ^ y) & ~low7 & ((1 << 8 * n) - 1))).to_bytes(n))


def png_pixels(png: Path, max_rows: int | None = None) -> tuple[int, int, list[Pixel]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes) into RGB pixels.

    With max_rows, only the top rows (each row needs only the rows above it).
    """
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _compression, _filter, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, pixels = bytearray(stride), []
    for y in range(height if max_rows is None else min(height, max_rows)):
        start = y * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 2:  # "Up", the filter Chromium uses most: one big-integer addition per row
            row = _add_bytes(bytes(row), bytes(prev))
        for i in range(stride if kind not in (0, 2) else 0):
            left = row[i - bpp] if i >= bpp else 0
            up, up_left = prev[i], (prev[i - bpp] if i >= bpp else 0)
            row[i] = (row[i] + (0, left, up, (left + up) // 2, _paeth(left, up, up_left))[kind]) & 0xFF
        pixels.extend((row[i], row[i + 1], row[i + 2]) for i in range(0, stride, bpp))
        prev = row
    return width, height, pixels


def test_png_decoder_reads_a_known_image(tmp_path: Path) -> None:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"\x00" + bytes([255, 0, 0, 0, 255, 0]) + b"\x02" + bytes([0, 0, 255, 0, 0, 0])  # None, then Up
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    assert png_pixels(png) == (2, 2, [(255, 0, 0), (0, 255, 0), (255, 0, 255), (0, 255, 0)])
    assert _add_bytes(bytes([250, 1, 128]), bytes([10, 2, 128])) == bytearray([4, 3, 0])


def render_page(tmp_path: Path, hosts: int) -> Path:
    result = fleet_result(hosts)
    result["hosts"][3]["name"] = HOSTILE  # a not-ready host with a hostile name
    page = tmp_path / "readiness.html"
    page.write_text(render_html(parse_result(result, "2030-01-01T00:00:00Z"), SETTINGS), encoding="utf-8")
    return page


def looks_like_the_report(png: Path) -> Counter[Pixel]:
    """The top of the page (summary, verdict, what to fix) is there: not one colour, has text, has red."""
    width, height, pixels = png_pixels(png, max_rows=500)
    assert (width, height) == (1400, 1000)
    colors = Counter(pixels)
    # The page's own background (#f6f8fa) and the white of its cards lead: the decoder read it right.
    assert [c for c, _count in colors.most_common(2)] == [(246, 248, 250), (255, 255, 255)], colors.most_common(3)
    background_share = colors.most_common(1)[0][1] / len(pixels)
    assert background_share < 0.9, "the page is (nearly) one colour: blank"
    assert len(colors) > 50, "too few colours for rendered text"
    dark = sum(n for (r, g, b), n in colors.items() if r + g + b < 200)
    assert dark > 2000, "no dark text on the page"
    return colors


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = render_page(tmp_path, 8)
    png = tmp_path / "shot.png"
    screenshot(page, png)
    colors = looks_like_the_report(png)
    # The not-ready count and the failure marks are red (#cf222e and its anti-aliased edges).
    red = sum(n for (r, g, b), n in colors.items() if r > 180 and g < 80 and b < 90)
    assert red > 300, "no failure mark or not-ready count in red above the fold"


def test_hostile_values_stay_text_in_the_browser(tmp_path: Path) -> None:
    """Chromium's own DOM of the page: the hostile host name is text, not an element."""
    page = render_page(tmp_path, 8)
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                              "--disable-background-networking", "--disable-component-update", "--disable-sync",
                              f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;alert(\"x\")&lt;/script&gt;" in dom


def test_a_2000_target_report_renders(tmp_path: Path) -> None:
    page = render_page(tmp_path, 2000)
    png = tmp_path / "shot.png"
    screenshot(page, png)
    looks_like_the_report(png)
