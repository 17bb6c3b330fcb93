# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The text reports: readiness.json (machines), junit.xml (CI) and ticket.md (the scanning provider)."""
from __future__ import annotations

import ipaddress
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._report.model import Readiness, scheme_label
from ansible_collections.scanready.windows.plugins.module_utils._report.templates import ReportSettings, render
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import class_label

# ---------------------------------------------------------------- readiness.json


def readiness_document(report: Readiness) -> dict[str, Any]:
    """The hosts as scan_readiness returns them (without run times), plus a class per host and summary counts;
    docs/sample-report/readiness.json shows one."""
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
            "checks": {name: check.as_dict() for name, check in h.checks.items()},
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
    cases = [(h, name, c) for h in report.hosts for name, c in h.checks.items()]
    # A target without any check result still needs a verdict CI can see.
    bare = [h for h in report.hosts if not h.checks]
    failures = sum(1 for host, name, c in cases if c.blocking) + sum(1 for h in bare if not h.ready)
    skipped = sum(1 for host, name, c in cases if c.ok is None)
    counts = {"tests": str(len(cases) + len(bare)), "failures": str(failures), "errors": "0", "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "scan readiness", **counts})
    suite = ET.SubElement(root, "testsuite", {"name": f"scan readiness: {report.domain}", **counts})
    props = ET.SubElement(suite, "properties")
    for key, value in (("domain", report.domain), ("account", report.account), ("generated_at", report.generated_at)):
        if value is not None:
            ET.SubElement(props, "property", {"name": key, "value": value})
    for host, name, check in cases:
        case = ET.SubElement(suite, "testcase", {"classname": host.name, "name": name})
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


def md_cell(text: str) -> str:
    """One table cell of text from the network (names, a host's answers): one line, pipes escaped, HTML and
    the Markdown that makes links, code or emphasis escaped, and a backslash doubled only where Markdown would
    read it as an escape (before punctuation), so HKLM\\Software stays readable as plain text."""
    escaped = re.sub(r"\\(?=[!-/:-@[-`{-~])", r"\\\\", text)
    escaped = re.sub(r"([|<>&\[\]`*])", r"\\\1", escaped)
    return " ".join(escaped.split())


_LINE_END: Final = re.compile(r"\r\n|[\r\n]")  # what CommonMark reads as the end of a line


def _longest_run(char: str, text: str) -> int:
    return max((len(run) for run in re.findall(f"{re.escape(char)}+", text)), default=0)


def md_code(text: str) -> str:
    """Text as one CommonMark code span, delimiters included: a run of backticks longer than any in the text,
    so none of them closes it (and nothing inside, HTML or Markdown, is live); a space inside each end where
    the text starts or ends with a backtick, or starts and ends with a space (CommonMark strips one such
    space from each end; empty text is one space); line ends as spaces, as a code span is on one line. Plain
    text is just `text`."""
    text = _LINE_END.sub(" ", text)
    fence = "`" * (_longest_run("`", text) + 1)
    if not text:
        text = " "
    elif text[0] == "`" or text[-1] == "`" or (text[0] == text[-1] == " " and text.strip(" ")):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def md_code_block(text: str) -> str:
    """Text as a CommonMark fenced code block, fences included: a backtick fence of at least three, longer than
    any run of backticks in the text, so no line of it can close the block early (a tilde line never closes a
    backtick fence); its lines are shown as they are, none of them read as Markdown or HTML."""
    fence = "`" * max(3, _longest_run("`", text) + 1)
    return f"{fence}\n{text}\n{fence}"


TICKET_FILTERS: Final[dict[str, Any]] = {"label": class_label, "md_cell": md_cell, "md_code": md_code,
                                         "md_code_block": md_code_block, "scheme": scheme_label}


def render_ticket(report: Readiness, settings: ReportSettings) -> str:
    """What the scanning provider asks for (ticket.md.j2): account username, domain, the IP addresses to scan."""
    ready = report.ready_hosts
    schemes = Counter(h.auth_scheme for h in ready if h.auth_scheme)
    return render("ticket.md.j2", settings, TICKET_FILTERS, report=report, ready=ready,
                  addresses=address_ranges([h.address for h in ready]),
                  schemes=dict(sorted(schemes.items(), key=lambda kv: -kv[1])),
                  not_ready=[h for _cls, hosts in report.not_ready_groups for h in hosts])
