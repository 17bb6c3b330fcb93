# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""readiness.html: a self-contained page (inline CSS, no scripts, no external assets), every value escaped."""
from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from ansible_collections.scanready.windows.plugins.module_utils._report.css import CSS
from ansible_collections.scanready.windows.plugins.module_utils._report.model import Readiness, scheme_label
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import (
    CheckResult,
    HostResult,
    class_label,
)

_MARKS = {"ok": "\u2713", "fail": "\u2717", "advisory": "!", "untested": "\u2013"}  # check mark, ballot x, en dash
# Expand the ready list only when it stays short; at fleet size the admin starts with the failures.
_READY_OPEN_UP_TO = 100


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _anchor(cls: str) -> str:
    return "class-" + re.sub(r"[^a-z0-9_-]", "-", cls.lower())


def _check_header(name: str) -> str:
    kind, target = name.split(":", 1) if ":" in name else (name, "")
    # Break long WMI namespaces and registry paths at their backslashes.
    target_html = "\\<wbr>".join(_e(part) for part in target.split("\\"))
    target_html = re.sub(r"([a-z])([A-Z])", r"\1<wbr>\2", target_html)  # RemoteRegistry, TerminalServices
    return f'<th class="chk" title="{_e(name)}"><span class="k">{_e(kind)}</span>{target_html}</th>'


def _mark_cell(name: str, check: CheckResult | None) -> str:
    if check is None:
        return '<td class="m" title="no result for this check"><b class="absent">\u00b7</b></td>'
    if check.ok:  # a pass needs no explanation; leaving it out keeps a 2,000-host page small
        return f'<td class="m"><b class="ok">{_MARKS["ok"]}</b></td>'
    title = f"{name}: {class_label(check.cls)}: {check.detail}"
    if check.ok is False and check.fix:
        title += f" | fix: {check.fix}"
    return f'<td class="m" title="{_e(title)}"><b class="{check.mark}">{_MARKS[check.mark]}</b></td>'


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _host_row(host: HostResult, columns: Sequence[str], group_fix: str | None) -> str:
    """One target: a mark per check, then why it is not ready (its fix when it differs from its
    group's), other blocking failures with their fix, and recommended fixes by name only (their
    fix is in the "Also recommended" list and in the mark's hover)."""
    cells = "".join(_mark_cell(name, host.checks.get(name)) for name in columns)
    primary = host.why
    parts = []
    if primary is not None:
        name, check = primary
        parts.append(f"<div><b>{_e(name)}</b>: {_e(check.detail)}</div>")
        if check.fix and check.fix != group_fix:
            parts.append(f"<div>Fix: {_e(check.fix)}</div>")
    for name, other in host.failures:
        if primary is not None and name == primary[0]:
            continue
        if other.blocking:
            fix = f" Fix: {_e(other.fix)}" if other.fix else ""
            parts.append(f'<div class="also">Also {_e(name)}: {_e(class_label(other.cls))}.{fix}</div>')
        else:
            parts.append(f'<div class="also">Recommended: {_e(name)}: {_e(class_label(other.cls))}.</div>')
    scheme = ('<td class="scheme none">none</td>' if host.auth_scheme is None
              else f'<td class="scheme">{_e(scheme_label(host.auth_scheme))}</td>')
    return (f'<tr><td class="host">{_e(host.name)}<div class="a">{_e(host.shown_address)}</div></td>'
            f'{scheme}{cells}<td class="why">{"".join(parts)}</td></tr>')


def _table_head(columns: Sequence[str], last: str) -> str:
    heads = "".join(_check_header(name) for name in columns)
    return f"<thead><tr><th>Target</th><th>Logged on with</th>{heads}<th>{_e(last)}</th></tr></thead>"


def _most_common_fix(checks: Iterable[CheckResult | None]) -> str | None:
    fixes = Counter(c.fix for c in checks if c is not None and c.fix)
    return min(fixes.items(), key=lambda kv: (-kv[1], kv[0]))[0] if fixes else None


def _group_fix(hosts: Sequence[HostResult]) -> str | None:
    return _most_common_fix(why[1] for why in (h.why for h in hosts) if why)


_LEGEND = (f'<p class="legend"><span><b class="ok">{_MARKS["ok"]}</b>passed</span>'
           f'<span><b class="fail">{_MARKS["fail"]}</b>failed: blocks scanning</span>'
           f'<span><b class="advisory">{_MARKS["advisory"]}</b>failed: fix recommended, does not block</span>'
           f'<span><b class="untested">{_MARKS["untested"]}</b>not tested / not testable</span>'
           '<span>Hover a mark for the detail.</span></p>')


def render_html(report: Readiness) -> str:
    """A self-contained page (inline CSS, no scripts, no external assets); every value escaped."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Scan readiness: {_e(report.domain)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<h1>Scan readiness: {_e(report.domain)}</h1>",
        '<p class="sub">Checked from the scanner\'s side with the scan account: admin shares, remote registry, '
        "services, WMI as a scanner connects to it, and the authentication scheme that worked.</p>",
        *_cards(report),
        *_verdict(report),
        *_recommended(report),
        *_not_ready_table(report),
        *_ready_table(report),
    ]
    stamp = f" at {_e(report.generated_at)}" if report.generated_at is not None else ""
    out.append(f"<footer>Generated{stamp} by scanready.windows from one scan_readiness run. "
               "The same data: readiness.json (machines), junit.xml (CI), ticket.md (the scanning provider).</footer>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def _cards(report: Readiness) -> list[str]:
    ready, total = len(report.ready_hosts), len(report.hosts)
    schemes = ", ".join(f"{scheme_label(s)} ({n:,})" for s, n in report.auth_schemes.items()) or "none"
    return [
        '<div class="cards">',
        f'<div class="card"><div class="n">{total:,}</div><div class="l">Targets</div></div>',
        f'<div class="card good"><div class="n">{ready:,}</div><div class="l">Ready</div></div>',
        f'<div class="card{" bad" if total - ready else ""}"><div class="n">{total - ready:,}</div>'
        '<div class="l">Not ready</div></div>',
        f'<div class="card wide"><div class="l">Scan account</div><div class="v">{_e(report.account)}</div>'
        f'<div class="l" style="margin-top:6px">Domain</div><div class="v">{_e(report.domain)}</div></div>',
        f'<div class="card wide"><div class="l">Authentication schemes seen</div>'
        f'<div class="v">{_e(schemes)}</div></div>',
        "</div>",
    ]


def _verdict(report: Readiness) -> list[str]:
    """The verdict, and for a fleet not ready the list of what to fix, one line per class."""
    ready, total = len(report.ready_hosts), len(report.hosts)
    groups = report.not_ready_groups
    if not groups:
        if total:
            return [f'<div class="verdict good">All {_count(total, "target")} are ready for authenticated '
                    "scanning.</div>"]
        return ['<div class="verdict bad">No targets were verified.</div>']
    out = [f'<div class="verdict bad">{total - ready:,} of {_count(total, "target")} are not ready for '
           "authenticated scanning. Fix these, then run the verification again.</div>",
           "<h2>What to fix</h2><ol class=\"todo\">"]
    for cls, hosts in groups:
        fix = _group_fix(hosts)
        fix_text = _e(fix) if fix else "No fix given; see the detail per target."
        out.append(_todo_item(f'<a class="cls" href="#{_anchor(cls)}">{_e(class_label(cls))}</a>', len(hosts),
                              fix_text))
    out.append("</ol>")
    return out


def _todo_item(what: str, targets: int, fix_html: str) -> str:
    """One line of a to-do list: what (HTML), how many targets, the fix (HTML)."""
    return f'<li>{what}<span class="cnt">{_count(targets, "target")}</span><span class="fix">{fix_html}</span></li>'


def _recommended(report: Readiness) -> list[str]:
    if not report.advisory_groups:
        return []
    out = ['<h2>Also recommended</h2><p class="sub">Findings that do not block scanning, with their fix.</p>'
           '<ol class="todo rec">']
    for cls, found in report.advisory_groups:
        checks = ", ".join(sorted({name for h, (name, c) in found}))
        fix = _most_common_fix(c for h, (name, c) in found)
        out.append(_todo_item(f'<span class="cls">{_e(class_label(cls))}</span> on {_e(checks)}',
                              len({h.name for h, named in found}), _e(fix) if fix else ""))
    out.append("</ol>")
    return out


def _not_ready_table(report: Readiness) -> list[str]:
    """The not-ready targets, one table body per class (the anchors of the "What to fix" list)."""
    groups, columns = report.not_ready_groups, report.check_names
    if not groups:
        return []
    out = [f"<h2>Not ready ({len(report.hosts) - len(report.ready_hosts):,})</h2>{_LEGEND}<table>",
           _table_head(columns, "Why, and what to do")]
    for cls, hosts in groups:
        fix = _group_fix(hosts)
        fix_html = f'<div class="fix"><b>Fix:</b> {_e(fix)}</div>' if fix else ""
        out.append(f'<tbody id="{_anchor(cls)}"><tr class="group"><th colspan="{len(columns) + 3}">'
                   f'{_e(class_label(cls))} <span class="cnt">\u00b7 {_count(len(hosts), "target")}</span>'
                   f"{fix_html}</th></tr>")
        out.extend(_host_row(h, columns, fix) for h in hosts)
        out.append("</tbody>")
    out.append("</table>")
    return out


def _ready_table(report: Readiness) -> list[str]:
    ready = len(report.ready_hosts)
    if not ready:
        return []
    is_open = " open" if ready <= _READY_OPEN_UP_TO else ""
    legend = "" if report.not_ready_groups else _LEGEND  # shown once, with the first table
    return [f"<details{is_open}><summary>Ready ({ready:,})</summary>{legend}<table>",
            _table_head(report.check_names, "Notes"),
            "<tbody>",
            *(_host_row(h, report.check_names, None) for h in report.ready_hosts),
            "</tbody></table></details>"]
