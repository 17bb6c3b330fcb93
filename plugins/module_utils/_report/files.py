# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every report file at once, by name."""
from __future__ import annotations

from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._report.html import render_html
from ansible_collections.scanready.windows.plugins.module_utils._report.model import Readiness
from ansible_collections.scanready.windows.plugins.module_utils._report.templates import ReportSettings
from ansible_collections.scanready.windows.plugins.module_utils._report.text import (
    render_json,
    render_junit,
    render_ticket,
)

REPORT_FILES: Final = ("readiness.json", "junit.xml", "readiness.html", "ticket.md")


def render_all(report: Readiness, settings: ReportSettings) -> dict[str, str]:
    """File name → content, for every report file."""
    return {
        "readiness.json": render_json(report),
        "junit.xml": render_junit(report),
        "readiness.html": render_html(report, settings),
        "ticket.md": render_ticket(report, settings),
    }
