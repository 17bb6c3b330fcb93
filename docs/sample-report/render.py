"""Render the sample reports in this directory from scan_readiness-result.json, and screenshot the HTML.

    .venv/bin/python docs/sample-report/render.py            (after `make collection`)

scan_readiness-result.json is {"generated_at": ..., "result": <a scan_readiness result from the lab>};
tests/unit/test_report.py fails when the committed reports no longer match what the renderers make of it.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / ".cache" / "collections"))

from ansible_collections.scanready.windows.plugins.module_utils._report.files import render_all  # noqa: E402
from ansible_collections.scanready.windows.plugins.module_utils._report.model import parse_result  # noqa: E402


def main() -> None:
    sample = json.loads((HERE / "scan_readiness-result.json").read_text())
    for name, text in render_all(parse_result(sample["result"], sample["generated_at"])).items():
        (HERE / name).write_text(text, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={HERE / 'readiness.png'}",
                        "--window-size=1400,1500", (HERE / "readiness.html").as_uri()],
                       check=True, capture_output=True, timeout=120)


if __name__ == "__main__":
    main()
