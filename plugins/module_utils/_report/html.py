# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""readiness.html: what its template (readiness.html.j2) is given, and the filters it uses.

The page is a self-contained document (inline CSS, no scripts, no external assets); the template is
autoescaped, so every value from the result is escaped where it is printed.
"""
from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._report.model import Readiness, scheme_label
from ansible_collections.scanready.windows.plugins.module_utils._report.templates import ReportSettings, render
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import (
    CheckResult,
    HostResult,
    class_label,
)

with contextlib.suppress(ImportError):  # reported by the module through missing_required_lib (with jinja2)
    import markupsafe

# A check mark, a ballot x, an exclamation mark, an en dash.
MARKS: Final = {"ok": "\u2713", "fail": "\u2717", "advisory": "!", "untested": "\u2013"}
# Expand the ready list only when it stays short; at fleet size the admin starts with the failures.
_READY_OPEN_UP_TO = 100


@dataclass(frozen=True)
class NotReadyGroup:
    """Not-ready targets of one class, and the fix most of them share."""

    cls: str
    hosts: Sequence[HostResult]
    fix: str | None


@dataclass(frozen=True)
class Recommended:
    """Failures of one class that do not block scanning: the checks, how many targets, the usual fix."""

    cls: str
    checks: Sequence[str]
    targets: int
    fix: str | None


def _most_common_fix(checks: Iterable[CheckResult | None]) -> str | None:
    fixes = Counter(c.fix for c in checks if c is not None and c.fix)
    return min(fixes.items(), key=lambda kv: (-kv[1], kv[0]))[0] if fixes else None


def not_ready_groups(report: Readiness) -> list[NotReadyGroup]:
    return [NotReadyGroup(cls, hosts, _most_common_fix(why[1] for why in (h.why for h in hosts) if why))
            for cls, hosts in report.not_ready_groups]


def recommended(report: Readiness) -> list[Recommended]:
    return [Recommended(cls, sorted({name for _host, (name, _check) in found}), len({h.name for h, _named in found}),
                        _most_common_fix(check for _host, (_name, check) in found))
            for cls, found in report.advisory_groups]


def anchor(cls: str) -> str:
    return "class-" + re.sub(r"[^a-z0-9_-]", "-", cls.lower())


def counted(number: int, noun: str) -> str:
    """``1 target``, ``2,000 targets``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def word_breaks(text: str) -> markupsafe.Markup:
    """Escaped text with line-break chances in long WMI namespaces and registry paths: after each
    backslash, and between a lower- and an upper-case letter (RemoteRegistry, TerminalServices)."""
    escaped = markupsafe.Markup("\\<wbr>").join(markupsafe.escape(part) for part in text.split("\\"))
    return markupsafe.Markup(re.sub(r"([a-z])([A-Z])", r"\1<wbr>\2", str(escaped)))  # noqa: S704 (escaped above)


FILTERS: Final[dict[str, Any]] = {
    "anchor": anchor,
    "counted": counted,
    "label": class_label,
    "number": "{:,}".format,
    "scheme": scheme_label,
    "wbr": word_breaks,
}


def render_html(report: Readiness, settings: ReportSettings) -> str:
    return render("readiness.html.j2", settings, FILTERS, report=report, not_ready=not_ready_groups(report),
                  recommended=recommended(report), marks=MARKS,
                  ready_open=len(report.ready_hosts) <= _READY_OPEN_UP_TO)
