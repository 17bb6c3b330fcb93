"""Render the sample reports in this directory from scan_readiness-result.json, screenshot the HTML, and
write the shipped report templates into docs/report-templates/ (the copies users start from).

    .venv/bin/python docs/sample-report/render.py            (after `make collection`)

scan_readiness-result.json is {"generated_at": ..., "result": <a scan_readiness result from the lab>}; the
reports use readiness_report's default wording. tests/unit/test_report.py fails when the committed reports
no longer match what the renderers make of it, tests/unit/test_report_templates.py when a template copy is stale.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TEMPLATE_COPIES = HERE.parent / "report-templates"
sys.path.insert(0, str(HERE.parents[1] / ".cache" / "collections"))

from ansible_collections.scanready.windows.plugins.module_utils._report.files import render_all  # noqa: E402
from ansible_collections.scanready.windows.plugins.module_utils._report.model import parse_result  # noqa: E402
from ansible_collections.scanready.windows.plugins.module_utils._report.shipped import SHIPPED  # noqa: E402
from ansible_collections.scanready.windows.plugins.module_utils._report.templates import (  # noqa: E402
    ReportSettings,
)
from ansible_collections.scanready.windows.plugins.modules import readiness_report  # noqa: E402


def main() -> None:
    for name, source in SHIPPED.items():
        (TEMPLATE_COPIES / name).write_text(source, encoding="utf-8")
    sample = json.loads((HERE / "scan_readiness-result.json").read_text())
    settings = ReportSettings(provider=yaml.safe_load(readiness_report.DOCUMENTATION)["options"]["provider"]["default"])
    for name, text in render_all(parse_result(sample["result"], sample["generated_at"]), settings).items():
        (HERE / name).write_text(text, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={HERE / 'readiness.png'}",
                        "--window-size=1400,1500", (HERE / "readiness.html").as_uri()],
                       check=True, capture_output=True, timeout=120)


if __name__ == "__main__":
    main()
