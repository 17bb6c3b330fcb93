# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness reports rendered from a scan_readiness result: JSON, JUnit XML, HTML and the ticket text.

Pure functions: the same result (and ``generated_at``) always gives byte-identical reports, so a
re-run over an unchanged fleet changes no file. Run times (``elapsed_s``, ``duration_s``) are left
out for that reason.

Secrets: the reports are built from an allow-list of fields (any other key of the result, e.g. a
stray ``password``, is dropped), and the free-text fields (``detail``, ``fix``) pass through
``redact`` which masks ``password=...``-style values and hash-like hex strings. The caller never
hands this module a password, so it cannot echo one.
"""
from __future__ import annotations

import html
import ipaddress
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import NoneType
from typing import Any

REPORT_FILES = ("readiness.json", "junit.xml", "readiness.html", "ticket.md")
TICKET_SUBJECT = "Qualys scan \u2013 with Windows authentication"  # the article's subject, en dash
MASK = "********"

CLASS_LABELS = {
    "ok": "Ready",
    "unreachable": "Unreachable (filtered)",
    "refused": "Connection refused",
    "timeout": "Timed out",
    "logon_failure": "Logon failure",
    "account_locked": "Account locked out",
    "account_disabled": "Account disabled",
    "account_expired": "Account expired",
    "password_expired": "Password expired",
    "access_denied": "Access denied",
    "share_missing": "Share missing",
    "registry_unavailable": "Remote registry unavailable",
    "spn_hardening": "SPN target-name hardening",
    "service_not_running": "Service not running",
    "service_not_automatic": "Service not set to Automatic",
    "service_unknown": "Service state unknown",
    "wmi_access_denied": "WMI access denied at Packet Privacy",
    "wmi_unavailable": "WMI unavailable",
    "signing_not_required": "SMB signing not required (advisory)",
    "not_tested": "Not tested",
    "error": "Unexpected error",
}
SCHEME_LABELS = {
    "kerberos-aes": "Kerberos AES",
    "kerberos-rc4": "Kerberos RC4",
    "ntlmv2": "NTLMv2",
    "ntlmv1": "NTLMv1",
}
# Columns in the order an admin reads them; unknown kinds go last, in the order first seen.
CHECK_KIND_ORDER = ("logon", "smb_signing", "share", "registry", "service", "wmi")

# A value after a password-like word ("password=x", "pwd: x", "secret is x"), and hex runs the
# length of an NT hash or longer (a hash is as good as the password for pass-the-hash).
_SECRET_VALUE = re.compile(
    r"(?i)\b(password|passwd|passphrase|pwd|secret|credentials?|token)(\s*[:=]\s*|\s+is\s+)(\"[^\"]*\"|'[^']*'|\S+)")
_HASH_LIKE = re.compile(r"\b[0-9a-fA-F]{32,}\b")
# Characters XML 1.0 cannot carry even escaped (controls other than tab/newline/CR) and lone
# surrogates, which UTF-8 cannot encode.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class ReportError(ValueError):
    """The result does not have the scan_readiness shape; the message names the offending field."""


def redact(text: str) -> str:
    """Mask password-like values and hash-like hex strings in free text."""
    text = _SECRET_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _HASH_LIKE.sub(MASK, text)


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None
    cls: str
    required: bool
    detail: str
    fix: str | None

    @property
    def blocking(self) -> bool:
        """A failure that keeps the host from being ready (a service or WMI failure that is not
        definitive comes with ``required: false``: a recommended fix that does not block scanning)."""
        return self.ok is False and self.required

    @property
    def mark(self) -> str:
        if self.ok is None:
            return "untested"
        return "ok" if self.ok else ("fail" if self.required else "advisory")


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    ready: bool
    auth_scheme: str | None
    checks: tuple[Check, ...]

    @property
    def shown_address(self) -> str:
        """The address, or why there is none (a name that did not resolve)."""
        return self.address or "no address"

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.ok is False)

    @property
    def why(self) -> Check | None:
        """The check that stands for a not-ready host: its first blocking failure, else its first
        required check left untested, else its first failure of any kind."""
        if self.ready:
            return None
        return (next((c for c in self.checks if c.blocking), None)
                or next((c for c in self.checks if c.ok is None and c.required), None)
                or next(iter(self.failures), None))

    @property
    def cls(self) -> str:
        """``ok`` for a ready host, else the class of the check that stands for it."""
        if self.ready:
            return "ok"
        why = self.why
        return why.cls if why else "not_tested"


@dataclass(frozen=True)
class Readiness:
    domain: str
    account: str
    hosts: tuple[Host, ...]  # sorted by name
    check_names: tuple[str, ...]  # report columns
    generated_at: str | None

    @property
    def ready_hosts(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if h.ready)

    @property
    def not_ready_groups(self) -> list[tuple[str, list[Host]]]:
        """Not-ready hosts by class, the class with the most hosts first."""
        groups: dict[str, list[Host]] = {}
        for host in self.hosts:
            if not host.ready:
                groups.setdefault(host.cls, []).append(host)
        return sorted(groups.items(), key=lambda item: (-len(item[1]), class_label(item[0])))

    @property
    def advisory_groups(self) -> list[tuple[str, list[tuple[Host, Check]]]]:
        """Failures that do not block scanning, by class, the class with the most hosts first."""
        groups: dict[str, list[tuple[Host, Check]]] = {}
        for host in self.hosts:
            for check in host.failures:
                if not check.blocking:
                    groups.setdefault(check.cls, []).append((host, check))
        return sorted(groups.items(), key=lambda item: (-len({host.name for host, check in item[1]}),
                                                        class_label(item[0])))

    @property
    def auth_schemes(self) -> dict[str, int]:
        counts = Counter(h.auth_scheme for h in self.hosts if h.auth_scheme)
        order = list(SCHEME_LABELS)
        rank = {scheme: order.index(scheme) if scheme in order else len(order) for scheme in counts}
        return dict(sorted(counts.items(), key=lambda kv: (rank[kv[0]], kv[0])))


def class_label(cls: str) -> str:
    return CLASS_LABELS.get(cls, cls)


def scheme_label(scheme: str | None) -> str:
    return "none" if scheme is None else SCHEME_LABELS.get(scheme, scheme)


# ---------------------------------------------------------------- reading the result

def _field(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ReportError(f"{where}.{key} is missing")
    value = data[key]
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        names = " or ".join("null" if k is NoneType else k.__name__ for k in kinds)
        raise ReportError(f"{where}.{key} must be {names}, not {type(value).__name__}")
    return value


def _text(data: Mapping[str, Any], key: str, where: str, *, secret_free: bool = True) -> str:
    value: str = _field(data, key, (str,), where)
    return _clean(value if secret_free else redact(value))


def _optional_text(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _field(data, key, (str, NoneType), where)
    return None if value is None else _clean(redact(value))


def _parse_check(name: str, data: Any, where: str) -> Check:
    if not isinstance(data, dict):
        raise ReportError(f"{where} must be a dict, not {type(data).__name__}")
    return Check(
        name=_clean(name),
        ok=_field(data, "ok", (bool, NoneType), where),
        cls=_text(data, "class", where),
        required=_field(data, "required", (bool,), where),
        detail=_text(data, "detail", where, secret_free=False),
        fix=_optional_text(data, "fix", where),
    )


def _parse_host(data: Any, where: str) -> Host:
    if not isinstance(data, dict):
        raise ReportError(f"{where} must be a dict, not {type(data).__name__}")
    checks = _field(data, "checks", (dict,), where)
    for key in checks:
        if not isinstance(key, str):
            raise ReportError(f"{where}.checks has a name that is not a string: {key!r}")
    name = _text(data, "name", where)
    if not name:
        raise ReportError(f"{where}.name is empty")
    return Host(
        name=name,
        address=_text(data, "address", where),
        ready=_field(data, "ready", (bool,), where),
        auth_scheme=_field(data, "auth_scheme", (str, NoneType), where),
        checks=tuple(_parse_check(k, v, f"{where}.checks[{k!r}]") for k, v in checks.items()),
    )


def _natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in re.split(r"(\d+)", text) if part)


def _check_columns(hosts: Sequence[Host]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for host in hosts:
        for check in host.checks:
            seen.setdefault(check.name, None)
    names = list(seen)

    def rank(name: str) -> tuple[int, int]:
        kind = name.split(":", 1)[0]
        kind_rank = CHECK_KIND_ORDER.index(kind) if kind in CHECK_KIND_ORDER else len(CHECK_KIND_ORDER)
        return kind_rank, names.index(name)

    return tuple(sorted(names, key=rank))


def parse_result(result: Mapping[str, Any], generated_at: str | None = None) -> Readiness:
    """Check a scan_readiness result against the contract and keep only the fields reports show."""
    if not isinstance(result, dict):
        raise ReportError(f"result must be a dict, not {type(result).__name__}")
    raw_hosts = _field(result, "hosts", (list,), "result")
    hosts = [_parse_host(h, f"result.hosts[{i}]") for i, h in enumerate(raw_hosts)]
    names = Counter(h.name for h in hosts)
    duplicates = sorted(n for n, count in names.items() if count > 1)
    if duplicates:
        raise ReportError(f"result.hosts names a target more than once: {', '.join(duplicates[:5])}")
    hosts.sort(key=lambda h: (_natural_key(h.name), h.address))
    return Readiness(
        domain=_text(result, "domain", "result"),
        account=_text(result, "account", "result"),
        hosts=tuple(hosts),
        check_names=_check_columns(hosts),
        generated_at=None if generated_at is None else _clean(generated_at),
    )


# ---------------------------------------------------------------- readiness.json

def readiness_document(report: Readiness) -> dict[str, Any]:
    """The ARCHITECTURE.md schema, plus class/required per check, class per host and summary counts."""
    ready = len(report.ready_hosts)
    doc: dict[str, Any] = {
        "summary": {
            "total": len(report.hosts),
            "ready": ready,
            "not_ready": len(report.hosts) - ready,
            "auth_schemes": report.auth_schemes,
            "not_ready_by_class": {cls: len(hosts) for cls, hosts in report.not_ready_groups},
        },
        "account": report.account,
        "domain": report.domain,
    }
    if report.generated_at is not None:
        doc["generated_at"] = report.generated_at
    doc["hosts"] = [
        {
            "name": h.name,
            "address": h.address,
            "ready": h.ready,
            "auth_scheme": h.auth_scheme,
            "class": h.cls,
            "checks": {
                c.name: {"ok": c.ok, "class": c.cls, "required": c.required, "detail": c.detail, "fix": c.fix}
                for c in h.checks
            },
        }
        for h in report.hosts
    ]
    return doc


def render_json(report: Readiness) -> str:
    return json.dumps(readiness_document(report), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- junit.xml

def render_junit(report: Readiness) -> str:
    """One testsuite; one testcase per target and check (classname = target, name = check).

    A failure for each check that keeps its target from being ready; a failed check that does not
    (``required: false``) passes with the finding and its fix in system-out, so CI agrees with the play.
    """
    cases = [(h, c) for h in report.hosts for c in h.checks]
    # A target without any check result still needs a verdict CI can see.
    bare = [h for h in report.hosts if not h.checks]
    failures = sum(1 for host, c in cases if c.blocking) + sum(1 for h in bare if not h.ready)
    skipped = sum(1 for host, c in cases if c.ok is None)
    counts = {"tests": str(len(cases) + len(bare)), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "scan readiness", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": f"scan readiness: {report.domain}", **counts})
    props = ET.SubElement(suite, "properties")
    for key, value in (("domain", report.domain), ("account", report.account), ("generated_at", report.generated_at)):
        if value is not None:
            ET.SubElement(props, "property", {"name": key, "value": value})
    for host, check in cases:
        case = ET.SubElement(suite, "testcase", {"classname": host.name, "name": check.name})
        if check.blocking:
            failure = ET.SubElement(case, "failure", {"message": f"{check.cls}: {check.fix or 'no fix given'}",
                                                      "type": check.cls})
            failure.text = f"{host.name} ({host.shown_address}): {check.detail}\nfix: {check.fix or 'no fix given'}"
        elif check.ok is False:
            ET.SubElement(case, "system-out").text = (f"advisory, does not block scanning: {check.cls}: "
                                                      f"{check.detail}\nfix: {check.fix or 'no fix given'}")
        elif check.ok is None:
            ET.SubElement(case, "skipped", {"message": f"{check.cls}: {check.detail}"})
    for host in bare:
        case = ET.SubElement(suite, "testcase", {"classname": host.name, "name": "ready"})
        if not host.ready:
            ET.SubElement(case, "failure", {"message": "not ready: no check result", "type": "not_tested"})
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# ---------------------------------------------------------------- ticket.md

def _address_key(address: str) -> tuple[int, int, int, str]:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return 1, 0, 0, address
    return 0, ip.version, int(ip), str(ip)


def address_ranges(addresses: Sequence[str]) -> list[str]:
    """Sorted, de-duplicated addresses with runs of consecutive IPs written as ``first-last``."""
    out: list[str] = []
    run: list[tuple[int, int, str]] = []  # (version, number, text) of consecutive addresses

    def flush() -> None:
        if run:
            out.append(run[0][2] if len(run) == 1 else f"{run[0][2]}-{run[-1][2]}")
            run.clear()

    for is_name, version, number, text in sorted({_address_key(a) for a in addresses if a}):
        if not (run and not is_name and (version, number) == (run[-1][0], run[-1][1] + 1)):
            flush()
        if is_name:
            out.append(text)
        else:
            run.append((version, number, text))
    flush()
    return out


def _md_cell(text: str) -> str:
    """One table cell: one line, pipes escaped, and a backslash doubled only where Markdown would
    read it as an escape (before punctuation), so HKLM\\Software stays readable as plain text."""
    escaped = re.sub(r"\\(?=[!-/:-@[-`{-~])", r"\\\\", text).replace("|", "\\|")
    return " ".join(escaped.split())


def render_ticket(report: Readiness) -> str:
    """What the scanning provider asks for: account username, domain, the IP addresses to scan."""
    ready = report.ready_hosts
    schemes = Counter(h.auth_scheme for h in ready if h.auth_scheme)
    lines = [
        f"Subject: {TICKET_SUBJECT}",
        "",
        "Hello,",
        "",
        "please set up authenticated (trusted) Windows scanning for the hosts below.",
        "",
        f"- Username of the scan account: `{report.account}`",
        f"- Domain of the scan account: `{report.domain}`",
        f"- IP addresses to scan ({len(ready)}):",
        "",
        "```",
        ", ".join(address_ranges([h.address for h in ready])) if ready else "(none yet)",
        "```",
        "",
    ]
    if schemes:
        used = ", ".join(f"{scheme_label(s)} ({n})" for s, n in sorted(schemes.items(), key=lambda kv: -kv[1]))
        ntlmv1 = ("NTLMv1 is needed by some hosts: please enable it in the Windows authentication record."
                  if "ntlmv1" in schemes else "NTLMv1 is not needed: please leave it disabled.")
        lines += [f"We verified the account from the scanner's side; authentication that worked: {used}. {ntlmv1}", ""]
    lines += ["The password is not part of this ticket; we will send it through your secure channel.", ""]
    not_ready = [h for cls, hosts in report.not_ready_groups for h in hosts]
    if not_ready:
        lines += [
            f"Not ready yet, please do not scan these until we confirm ({len(not_ready)}):",
            "",
            "| Host | IP address | Why |",
            "|---|---|---|",
        ]
        for host in not_ready:
            why = host.why
            reason = class_label(host.cls) + (f": {why.detail}" if why else "")
            lines.append(f"| {_md_cell(host.name)} | {_md_cell(host.shown_address)} | {_md_cell(reason)} |")
        lines.append("")
    if report.generated_at is not None:
        lines += [f"Verified at {report.generated_at}.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- readiness.html

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 color:#1f2328;background:#f6f8fa}
main{max-width:1600px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 10px}
.sub{color:#57606a;margin:0 0 18px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:8px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 18px;min-width:150px}
.card .n{font-size:30px;font-weight:650;line-height:1.1}
.card .l{color:#57606a;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.good .n{color:#1a7f37}.card.bad .n{color:#cf222e}
.card.wide{min-width:260px}
.card .v{font-size:15px;font-weight:600;margin-top:4px;word-break:break-all}
.verdict{padding:10px 16px;border-radius:8px;margin:14px 0 0;font-weight:600}
.verdict.good{background:#dafbe1;color:#116329;border:1px solid #aceebb}
.verdict.bad{background:#ffebe9;color:#82071e;border:1px solid #ffcecb}
.todo{list-style:none;padding:0;margin:0;display:grid;gap:8px}
.todo li{background:#fff;border:1px solid #d0d7de;border-left:5px solid #cf222e;border-radius:6px;padding:7px 14px}
.todo.rec li{border-left-color:#d4a72c}
.todo .cls{font-weight:650;color:#1f2328;text-decoration:none}
.todo .cls:hover{text-decoration:underline}
.todo .cnt{color:#57606a;margin:0 8px 0 6px}
table{border-collapse:separate;border-spacing:0;background:#fff;border:1px solid #d0d7de;border-radius:8px;width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #eaeef2;vertical-align:top;text-align:left}
thead th{position:sticky;top:0;background:#f6f8fa;z-index:1;font-size:12px;font-weight:600;color:#424a53;
 border-bottom:1px solid #d0d7de}
th.chk{text-align:center;min-width:64px;width:92px}
th.chk .k{display:block;color:#6e7781;font-weight:500;text-transform:uppercase;font-size:10px;letter-spacing:.04em}
td.m{text-align:center;width:64px}
.m b,.legend b{display:inline-block;min-width:24px;line-height:20px;border-radius:4px;text-align:center;font-weight:700}
b.ok{color:#1a7f37;background:#dafbe1}
b.fail{color:#fff;background:#cf222e}
b.advisory{color:#7d4e00;background:#fff1c2}
b.untested{color:#6e7781;background:#eaeef2}
b.absent{color:#8c959f}
td.host{white-space:nowrap}
td.host .a{color:#57606a;font-size:12px}
td.why{min-width:260px;font-size:13px}
td.why .also{color:#57606a;margin-top:3px}
td.scheme{white-space:nowrap;font-size:13px}
td.scheme.none{color:#8c959f}
tr.group th{background:#fff8f7;border-top:2px solid #cf222e;font-size:14px;text-align:left;padding:9px 8px}
tr.group .cnt{color:#57606a;font-weight:500}
tr.group .fix{font-weight:400;margin-top:2px}
tr.group .fix b{font-weight:650}
.legend{color:#57606a;font-size:12px;margin:8px 0}
.legend span{display:inline-block;margin-right:14px}
.legend b{margin-right:5px}
details>summary{cursor:pointer;font-size:18px;font-weight:600;margin:32px 0 10px}
footer{color:#57606a;font-size:12px;margin-top:28px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
@media print{thead th{position:static}details{display:block}}
"""
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


def _mark_cell(check: Check | None) -> str:
    if check is None:
        return '<td class="m" title="no result for this check"><b class="absent">\u00b7</b></td>'
    if check.ok:  # a pass needs no explanation; leaving it out keeps a 2,000-host page small
        return f'<td class="m"><b class="ok">{_MARKS["ok"]}</b></td>'
    title = f"{check.name}: {class_label(check.cls)}: {check.detail}"
    if check.ok is False and check.fix:
        title += f" | fix: {check.fix}"
    return f'<td class="m" title="{_e(title)}"><b class="{check.mark}">{_MARKS[check.mark]}</b></td>'


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _host_row(host: Host, columns: Sequence[str], group_fix: str | None) -> str:
    """One target: a mark per check, then why it is not ready (its fix when it differs from its
    group's), other blocking failures with their fix, and recommended fixes by name only (their
    fix is in the "Also recommended" list and in the mark's hover)."""
    by_name = {c.name: c for c in host.checks}
    cells = "".join(_mark_cell(by_name.get(name)) for name in columns)
    primary = host.why
    parts = []
    if primary is not None:
        parts.append(f"<div><b>{_e(primary.name)}</b>: {_e(primary.detail)}</div>")
        if primary.fix and primary.fix != group_fix:
            parts.append(f"<div>Fix: {_e(primary.fix)}</div>")
    for other in host.failures:
        if other is primary:
            continue
        if other.blocking:
            fix = f" Fix: {_e(other.fix)}" if other.fix else ""
            parts.append(f'<div class="also">Also {_e(other.name)}: {_e(class_label(other.cls))}.{fix}</div>')
        else:
            parts.append(f'<div class="also">Recommended: {_e(other.name)}: {_e(class_label(other.cls))}.</div>')
    scheme = ('<td class="scheme none">none</td>' if host.auth_scheme is None
              else f'<td class="scheme">{_e(scheme_label(host.auth_scheme))}</td>')
    return (f'<tr><td class="host">{_e(host.name)}<div class="a">{_e(host.shown_address)}</div></td>'
            f'{scheme}{cells}<td class="why">{"".join(parts)}</td></tr>')


def _table_head(columns: Sequence[str], last: str) -> str:
    heads = "".join(_check_header(name) for name in columns)
    return f"<thead><tr><th>Target</th><th>Logged on with</th>{heads}<th>{_e(last)}</th></tr></thead>"


def _most_common_fix(checks: Iterable[Check | None]) -> str | None:
    fixes = Counter(c.fix for c in checks if c is not None and c.fix)
    return min(fixes.items(), key=lambda kv: (-kv[1], kv[0]))[0] if fixes else None


def _group_fix(hosts: Sequence[Host]) -> str | None:
    return _most_common_fix(h.why for h in hosts)


def render_html(report: Readiness) -> str:
    """A self-contained page (inline CSS, no scripts, no external assets); every value escaped."""
    columns = report.check_names
    ready, total = len(report.ready_hosts), len(report.hosts)
    groups = report.not_ready_groups
    schemes = ", ".join(f"{scheme_label(s)} ({n:,})" for s, n in report.auth_schemes.items()) or "none"
    span = len(columns) + 3
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Scan readiness: {_e(report.domain)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Scan readiness: {_e(report.domain)}</h1>",
        '<p class="sub">Checked from the scanner\'s side with the scan account: admin shares, remote registry, '
        "services, WMI at Packet Privacy, and the authentication scheme that worked.</p>",
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
    if groups:
        out.append(f'<div class="verdict bad">{total - ready:,} of {_count(total, "target")} are not ready for '
                   "authenticated scanning. Fix these, then run the verification again.</div>")
        out.append("<h2>What to fix</h2><ol class=\"todo\">")
        for cls, hosts in groups:
            fix = _group_fix(hosts)
            fix_text = _e(fix) if fix else "No fix given; see the detail per target."
            out.append(f'<li><a class="cls" href="#{_anchor(cls)}">{_e(class_label(cls))}</a>'
                       f'<span class="cnt">{_count(len(hosts), "target")}</span>'
                       f'<span class="fix">{fix_text}</span></li>')
        out.append("</ol>")
    elif total:
        out.append(f'<div class="verdict good">All {_count(total, "target")} are ready for authenticated '
                   "scanning.</div>")
    else:
        out.append('<div class="verdict bad">No targets were verified.</div>')
    if report.advisory_groups:
        out.append('<h2>Also recommended</h2><p class="sub">Findings that do not block scanning, with their fix.</p>'
                   '<ol class="todo rec">')
        for cls, found in report.advisory_groups:
            checks = ", ".join(sorted({c.name for h, c in found}))
            fix = _most_common_fix(c for h, c in found)
            out.append(f'<li><span class="cls">{_e(class_label(cls))}</span> on {_e(checks)}'
                       f'<span class="cnt">{_count(len({h.name for h, c in found}), "target")}</span>'
                       f'<span class="fix">{_e(fix) if fix else ""}</span></li>')
        out.append("</ol>")
    legend = (f'<p class="legend"><span><b class="ok">{_MARKS["ok"]}</b>passed</span>'
              f'<span><b class="fail">{_MARKS["fail"]}</b>failed: blocks scanning</span>'
              f'<span><b class="advisory">{_MARKS["advisory"]}</b>failed: fix recommended, does not block</span>'
              f'<span><b class="untested">{_MARKS["untested"]}</b>not tested / not testable</span>'
              '<span>Hover a mark for the detail.</span></p>')
    if groups:
        out.append(f"<h2>Not ready ({total - ready:,})</h2>{legend}<table>")
        out.append(_table_head(columns, "Why, and what to do"))
        for cls, hosts in groups:
            fix = _group_fix(hosts)
            fix_html = f'<div class="fix"><b>Fix:</b> {_e(fix)}</div>' if fix else ""
            out.append(f'<tbody id="{_anchor(cls)}"><tr class="group"><th colspan="{span}">{_e(class_label(cls))} '
                       f'<span class="cnt">\u00b7 {_count(len(hosts), "target")}</span>'
                       f"{fix_html}</th></tr>")
            out.extend(_host_row(h, columns, fix) for h in hosts)
            out.append("</tbody>")
        out.append("</table>")
    if ready:
        is_open = " open" if ready <= _READY_OPEN_UP_TO else ""
        out.append(f"<details{is_open}><summary>Ready ({ready:,})</summary>{legend if not groups else ''}<table>")
        out.append(_table_head(columns, "Notes"))
        out.append("<tbody>")
        out.extend(_host_row(h, columns, None) for h in report.ready_hosts)
        out.append("</tbody></table></details>")
    stamp = f" at {_e(report.generated_at)}" if report.generated_at is not None else ""
    out.append(f"<footer>Generated{stamp} by scanready.windows from one scan_readiness run. "
               "The same data: readiness.json (machines), junit.xml (CI), ticket.md (the scanning provider).</footer>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- all four, and the one-line summaries

def render_all(report: Readiness) -> dict[str, str]:
    """File name → content, for every report file."""
    return {
        "readiness.json": render_json(report),
        "junit.xml": render_junit(report),
        "readiness.html": render_html(report),
        "ticket.md": render_ticket(report),
    }


def not_ready_summary(report: Readiness) -> list[dict[str, Any]]:
    """One entry per not-ready host, grouped as in the reports: ``reason`` (class and check) and
    ``line`` (name, address, reason, detail, fix) are one line each, ready to print."""
    out = []
    for cls, hosts in report.not_ready_groups:
        for host in hosts:
            why = host.why
            reason = class_label(cls) + (f" on {why.name}" if why else "")
            line = f"{host.name} ({host.shown_address}): {reason}"
            if why is not None:
                line += f": {why.detail.rstrip('.')}." + (f" Fix: {why.fix}" if why.fix else "")
            out.append({"name": host.name, "address": host.address, "class": cls,
                        "check": why.name if why else None, "detail": why.detail if why else None,
                        "fix": why.fix if why else None, "reason": reason, "line": " ".join(line.split())})
    return out
