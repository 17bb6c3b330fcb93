"""The report renderers: schema, JUnit counts, HTML escaping and order, the ticket, redaction, validation."""
from __future__ import annotations

import copy
import json
import random
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.scanready.windows.plugins.module_utils._report.files import render_all
from ansible_collections.scanready.windows.plugins.module_utils._report.html import render_html
from ansible_collections.scanready.windows.plugins.module_utils._report.model import (
    MASK,
    ReportError,
    not_ready_summary,
    parse_result,
    redact,
)
from ansible_collections.scanready.windows.plugins.module_utils._report.templates import ReportSettings
from ansible_collections.scanready.windows.plugins.module_utils._report.text import (
    address_ranges,
    md_cell,
    md_code,
    md_code_block,
    render_json,
    render_junit,
    render_ticket,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import failed
from ansible_collections.scanready.windows.plugins.modules import readiness_report

SAMPLE = Path(__file__).resolve().parents[2] / "docs" / "sample-report" / "scan_readiness-result.json"
# The wording readiness_report uses when not told otherwise, as its documentation states it.
SETTINGS = ReportSettings(provider=yaml.safe_load(readiness_report.DOCUMENTATION)["options"]["provider"]["default"])

# ------------------------------------------------------------------ fixtures: a result per lab class

SHARES = ("C$", "ADMIN$", "IPC$")
SERVICES = ("RemoteRegistry", "LanmanServer", "MpsSvc")
WMI = ("root\\cimv2\\security\\microsofttpm", "root\\CIMV2\\TerminalServices")
FIREWALL_FIX = ("Allow TCP 445 from the scanner addresses: GPO 'Windows Firewall: Allow file and printer sharing "
                "exception' (and remote administration), scoped to the scanner appliances.")


def check(ok: bool | None, cls: str, detail: str, fix: str | None = None, required: bool = True) -> dict[str, Any]:
    return {"ok": ok, "class": cls, "required": required, "detail": detail, "fix": fix}


def host_result(name: str, address: str, kind: str) -> dict[str, Any]:
    """What scan_readiness returns for one target of the given lab class (per the result contract)."""
    after_logon = check(None, "not_tested", "not tested: logon failed")
    checks: dict[str, Any] = {"logon": check(True, "ok", f"Kerberos AES session with cifs/{name}")}
    checks.update({f"share:{s}": check(True, "ok", f"listed \\\\{address}\\{s}") for s in SHARES})
    checks["registry:HKLM\\Software"] = check(True, "ok", "opened HKLM\\Software over winreg")
    checks["service:RemoteRegistry"] = check(True, "ok", "running, start type automatic", required=False)
    for svc in SERVICES[1:]:
        checks[f"service:{svc}"] = check(None, "service_unknown", f"svcctl does not know {svc} on this host",
                                         required=False)
    for ns in WMI:
        checks[f"wmi:{ns}"] = check(None, "wmi_unavailable", "no DCOM/WMI endpoint (Samba host)", required=False)
    scheme: str | None = "kerberos-aes"
    if kind in ("firewall_blocked", "port_closed", "slow"):
        scheme = None
        checks = {k: (after_logon if k != "logon" else v) for k, v in checks.items()}
        checks["logon"] = {
            "firewall_blocked": check(False, "unreachable", f"no answer from {address}:445 within 5 s", FIREWALL_FIX),
            "port_closed": check(False, "refused", f"{address}:445 refused the connection",
                                 "Start the Server (LanmanServer) service; allow TCP 445 from the scanner addresses."),
            "slow": check(False, "timeout", "no SMB negotiate answer within 5 s",
                          "Check the network path to the host; raise the per-target timeout if the link is slow."),
        }[kind]
    elif kind == "share_denied":
        checks["share:C$"] = check(False, "access_denied", f"\\\\{address}\\C$: STATUS_ACCESS_DENIED",
                                   "Make the scan account a member of the host's local Administrators group "
                                   "(Domain Admins are, by default).")
    elif kind == "registry_off":
        checks["registry:HKLM\\Software"] = check(False, "registry_unavailable",
                                                  "winreg pipe: STATUS_OBJECT_NAME_NOT_FOUND",
                                                  "Set the Remote Registry service to Automatic and start it.")
        checks["service:RemoteRegistry"] = check(False, "service_not_running", "stopped, start type manual",
                                                 "Set Remote Registry to Automatic (GPO System Services).",
                                                 required=False)
    ready = all(c["ok"] for c in checks.values() if c["required"])
    return {"name": name, "address": address, "ready": ready, "auth_scheme": scheme if ready or kind in (
        "share_denied", "registry_off") else None, "duration_s": random.random(), "checks": checks}  # noqa: S311 (test data)


LAB_KINDS = ("ready", "firewall_blocked", "port_closed", "share_denied", "registry_off", "slow", "ready", "ready")


def fleet_result(count: int, domain: str = "lab1.example.test") -> dict[str, Any]:
    """A result for `count` targets cycling through the lab's classes (plus the DC, ready)."""
    hosts = [host_result(f"dc1.{domain}", "10.201.0.2", "ready")]
    for i in range(count):
        address = f"10.201.{1 + i // 250}.{1 + i % 250}"
        hosts.append(host_result(f"t{i + 1:04d}.{domain}", address, LAB_KINDS[i % len(LAB_KINDS)]))
    ready = sum(h["ready"] for h in hosts)
    return {"changed": False, "domain": domain, "account": "qualys_scanner",
            "summary": {"total": len(hosts), "ready": ready, "not_ready": len(hosts) - ready},
            "elapsed_s": 1.23, "hosts": hosts}


def parse_xml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 (our own output)


@pytest.fixture
def result() -> dict[str, Any]:
    return fleet_result(8)


# ------------------------------------------------------------------ readiness.json

def test_json_has_the_architecture_schema(result: dict[str, Any]) -> None:
    doc = json.loads(render_json(parse_result(result)))
    assert list(doc)[:3] == ["summary", "account", "domain"]
    assert {k: doc["summary"][k] for k in ("total", "ready", "not_ready")} == {"total": 9, "ready": 4, "not_ready": 5}
    assert (doc["account"], doc["domain"]) == ("qualys_scanner", "lab1.example.test")
    assert "generated_at" not in doc and "elapsed_s" not in json.dumps(doc) and "duration_s" not in json.dumps(doc)
    by_name = {h["name"]: h for h in doc["hosts"]}
    assert set(by_name) == {h["name"] for h in result["hosts"]}
    for host in doc["hosts"]:
        assert {"name", "address", "ready", "auth_scheme", "checks"} <= set(host)
        for name, chk in host["checks"].items():
            assert {"ok", "detail", "fix"} <= set(chk), name
    t4 = by_name["t0004.lab1.example.test"]
    assert t4["ready"] is False and t4["class"] == "access_denied" and t4["auth_scheme"] == "kerberos-aes"
    assert t4["checks"]["share:C$"]["fix"].startswith("Make the scan account")
    assert by_name["t0002.lab1.example.test"]["checks"]["share:C$"]["ok"] is None
    assert doc["summary"]["auth_schemes"] == {"kerberos-aes": 6}
    assert doc["summary"]["not_ready_by_class"] == {
        "access_denied": 1, "refused": 1, "registry_unavailable": 1, "timeout": 1, "unreachable": 1}


def test_summary_is_counted_from_the_hosts_not_copied(result: dict[str, Any]) -> None:
    result["summary"] = {"total": 1, "ready": 1, "not_ready": 0}
    assert json.loads(render_json(parse_result(result)))["summary"]["not_ready"] == 5


def test_reports_are_deterministic_whatever_the_host_order_and_timings(result: dict[str, Any]) -> None:
    first = render_all(parse_result(result), SETTINGS)
    shuffled = copy.deepcopy(result)
    random.Random(7).shuffle(shuffled["hosts"])  # noqa: S311 (test data)
    for host in shuffled["hosts"]:
        host["duration_s"] = 99.0
    shuffled["elapsed_s"] = 42.0
    assert render_all(parse_result(shuffled), SETTINGS) == first


def test_generated_at_is_stamped_only_when_given(result: dict[str, Any]) -> None:
    stamped = render_all(parse_result(result, "2025-01-02T03:04:05+00:00"), SETTINGS)
    assert json.loads(stamped["readiness.json"])["generated_at"] == "2025-01-02T03:04:05+00:00"
    for name, text in stamped.items():
        assert "2025-01-02T03:04:05" in text, name
    assert all("2025-01-02" not in text for text in render_all(parse_result(result), SETTINGS).values())


# ------------------------------------------------------------------ junit.xml

def test_junit_has_one_testcase_per_target_and_check(result: dict[str, Any]) -> None:
    root = parse_xml(render_junit(parse_result(result)))
    suites = root.findall("testsuite")
    assert root.tag == "testsuites" and len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    all_checks = [(h["name"], c) for h in result["hosts"] for c in h["checks"].values()]
    assert len(cases) == len(all_checks) == int(suite.get("tests", "")) == int(root.get("tests", ""))
    assert {(c.get("classname"), c.get("name")) for c in cases} == {
        (h["name"], name) for h in result["hosts"] for name in h["checks"]}
    failed = [c for c in cases if c.find("failure") is not None]
    skipped = [c for c in cases if c.find("skipped") is not None]
    blocking = [c for _name, c in all_checks if c["ok"] is False and c["required"]]
    assert len(failed) == len(blocking) == 5 == int(suite.get("failures", ""))
    assert len(skipped) == sum(1 for _name, c in all_checks if c["ok"] is None) == int(suite.get("skipped", ""))
    assert suite.get("errors") == "0"
    c_share = next(c for c in cases if c.get("classname") == "t0004.lab1.example.test" and c.get("name") == "share:C$")
    failure = c_share.find("failure")
    assert failure is not None and failure.get("type") == "access_denied"
    assert failure.get("message", "").startswith("access_denied: Make the scan account a member")
    assert "STATUS_ACCESS_DENIED" in (failure.text or "")
    # A failed check that does not block readiness passes, with its finding and fix in system-out.
    advisory = next(c for c in cases if c.get("classname") == "t0005.lab1.example.test"
                    and c.get("name") == "service:RemoteRegistry")
    assert advisory.find("failure") is None and advisory.find("skipped") is None
    assert "service_not_running" in (advisory.findtext("system-out") or "")
    assert "Set Remote Registry to Automatic" in (advisory.findtext("system-out") or "")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"domain": "lab1.example.test", "account": "qualys_scanner"}


def test_junit_gives_a_verdict_for_a_target_without_checks(result: dict[str, Any]) -> None:
    result["hosts"].append({"name": "bare", "address": "10.0.0.9", "ready": False, "auth_scheme": None, "checks": {}})
    suite = parse_xml(render_junit(parse_result(result))).findall("testsuite")[0]
    bare = [c for c in suite.findall("testcase") if c.get("classname") == "bare"]
    assert len(bare) == 1 and bare[0].find("failure") is not None


def test_control_characters_do_not_break_xml(result: dict[str, Any]) -> None:
    result["hosts"][0]["checks"]["logon"]["detail"] = "bad\x00bytes\x1b[0m and \ud800"
    text = render_junit(parse_result(result))
    parse_xml(text)  # well-formed
    assert "\x00" not in text and "\x1b" not in text


# ------------------------------------------------------------------ readiness.html

HOSTILE = '<script>alert("x")</script>'


def test_html_escapes_every_value(result: dict[str, Any]) -> None:
    evil = result["hosts"][4]  # not ready
    evil["name"] = HOSTILE
    evil["address"] = '"><img src=x onerror=alert(1)>'
    for chk in evil["checks"].values():
        chk["detail"] = "<b>bold</b> & 'quoted'"
        if chk["ok"] is False:
            chk["fix"] = "<iframe src=//evil></iframe>"
    result["domain"] = "<style>body{display:none}</style>"
    result["account"] = "<svg onload=alert(1)>"
    result["hosts"][1]["checks"][HOSTILE] = check(False, HOSTILE, HOSTILE, HOSTILE)
    page = render_html(parse_result(result), SETTINGS)
    lowered = page.lower()
    assert "<script" not in lowered and "<img" not in lowered and "<iframe" not in lowered and "<svg" not in lowered
    assert "<b>bold" not in page and lowered.count("<style") == 1
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &#39;quoted&#39;" in page


def test_html_is_self_contained(result: dict[str, Any]) -> None:
    page = render_html(parse_result(result), SETTINGS)
    lowered = page.lower()
    for needle in ("http://", "https://", "<link", "<script", "src=", "@import", "url("):
        assert needle not in lowered, needle


def test_html_has_summary_matrix_and_fixes(result: dict[str, Any]) -> None:
    page = render_html(parse_result(result), SETTINGS)
    for text in ("qualys_scanner", "lab1.example.test", "Kerberos AES (6)", '<div class="n">9</div>',
                 '<div class="n">4</div>', '<div class="n">5</div>', "What to fix", FIREWALL_FIX.replace("'", "&#39;"),
                 "Set the Remote Registry service to Automatic and start it.", "Access denied", "Ready (4)"):
        assert text in page, text
    # Five not-ready hosts, each with one blocking failure, and one advisory; plus the legend's marks.
    assert page.count('<b class="fail">') == 5 + 1
    assert page.count('<b class="advisory">') == 1 + 1
    assert "Also recommended" in page and "Service not running</span> on service:RemoteRegistry" in page
    assert page.count('<tr class="group">') == 5


def test_html_puts_not_ready_first_grouped_by_class_largest_first() -> None:
    report = parse_result(fleet_result(2000))
    page = render_html(report, SETTINGS)
    groups = [page.index(f'id="class-{cls}"') for cls in
              ("access_denied", "refused", "registry_unavailable", "timeout", "unreachable")]
    assert groups == sorted(groups)  # equal counts: ordered by label
    assert max(groups) < page.index("<summary>Ready (")
    assert page.index("t0002.lab1") < page.index("t0010.lab1")  # both unreachable, natural order
    assert "<details><summary>Ready (" in page  # at fleet size the ready list starts folded


def test_html_for_2000_targets_renders_fast_and_stays_compact() -> None:
    result = fleet_result(2000)
    start = time.perf_counter()
    files = render_all(parse_result(result), SETTINGS)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0  # about 1.3 s on the shared 2-core test machine
    assert len(files["readiness.html"]) < 4_000_000
    assert files["readiness.html"].count('<td class="host">') == 2001


def test_empty_result_renders() -> None:
    files = render_all(parse_result({"domain": "d.test", "account": "a", "hosts": []}), SETTINGS)
    assert json.loads(files["readiness.json"])["summary"]["total"] == 0
    assert int(parse_xml(files["junit.xml"]).get("tests", "")) == 0
    assert "No targets were verified" in files["readiness.html"]
    assert "(none yet)" in files["ticket.md"]


# ------------------------------------------------------------------ ticket.md

def test_ticket_has_what_the_provider_asks_for(result: dict[str, Any]) -> None:
    ticket = render_ticket(parse_result(result), SETTINGS)
    assert ticket.startswith("Subject: Qualys scan \u2013 with Windows authentication\n")
    assert "Username of the scan account: `qualys_scanner`" in ticket
    assert "Domain of the scan account: `lab1.example.test`" in ticket
    block = ticket.split("```")[1].strip()
    assert block == "10.201.0.2, 10.201.1.1, 10.201.1.7-10.201.1.8"
    assert "IP addresses to scan (4)" in ticket
    not_ready = ticket.split("Not ready yet")[1]
    for address, why in (("10.201.1.2", "Unreachable"), ("10.201.1.3", "Connection refused"),
                         ("10.201.1.4", "Access denied"), ("10.201.1.5", "Remote registry unavailable"),
                         ("10.201.1.6", "Timed out")):
        line = next(ln for ln in not_ready.splitlines() if f"| {address} |" in ln)
        assert why in line
    assert "NTLMv1 is not needed" in ticket and "password is not part of this ticket" in ticket


def test_ticket_asks_for_ntlmv1_when_a_ready_host_needs_it(result: dict[str, Any]) -> None:
    result["hosts"][0]["auth_scheme"] = "ntlmv1"
    assert "please enable it" in render_ticket(parse_result(result), SETTINGS)


def test_a_target_without_address_says_so(result: dict[str, Any]) -> None:
    result["hosts"][2]["address"] = ""  # t0002: its name did not resolve
    files = render_all(parse_result(result), SETTINGS)
    assert "| t0002.lab1.example.test | no address |" in files["ticket.md"]
    assert '<div class="a">no address</div>' in files["readiness.html"]
    assert json.loads(files["readiness.json"])["hosts"][2]["address"] == ""


def test_ticket_table_cells_cannot_break_the_table(result: dict[str, Any]) -> None:
    result["hosts"][2]["checks"]["logon"]["detail"] = "a | b\nc"
    ticket = render_ticket(parse_result(result), SETTINGS)
    row = next(ln for ln in ticket.splitlines() if ln.startswith("| t0002"))
    assert row.count(" | ") == 2 and "a \\| b c" in row


@pytest.mark.parametrize(("detail", "cell"), [
    ("HKLM\\Software: no answer", "HKLM\\Software: no answer"),  # plain text stays plain
    ("\\\\10.0.0.1\\C$: denied", "\\\\\\10.0.0.1\\C$: denied"),  # Markdown shows \\10.0.0.1\C$
    ("a*b*c", "a\\*b\\*c"),  # rendered as a*b*c, never as emphasis
])
def test_ticket_cells_keep_windows_paths_readable(result: dict[str, Any], detail: str, cell: str) -> None:
    result["hosts"][2]["checks"]["logon"]["detail"] = detail
    row = next(ln for ln in render_ticket(parse_result(result), SETTINGS).splitlines() if ln.startswith("| t0002"))
    assert row.endswith(f": {cell} |")


def test_address_ranges() -> None:
    assert address_ranges(["10.0.0.3", "", "10.0.0.1", "10.0.0.2", "10.0.0.2", "10.0.1.0", "host.example",
                           "10.0.0.255", "10.0.0.5", "::1", "::2"]) == [
        "10.0.0.1-10.0.0.3", "10.0.0.5", "10.0.0.255-10.0.1.0", "::1-::2", "host.example"]


# ------------------------------------------------------------------ secrets

PASSWORD = "Hunter2-Secret-Value"


def test_password_like_values_are_redacted_from_every_report(result: dict[str, Any]) -> None:
    """A detail that quotes a credential (a probe bug, a server message) is masked in every file."""
    result["hosts"][4]["checks"]["share:C$"]["detail"] = f"logon as x with password={PASSWORD} failed"
    result["hosts"][4]["checks"]["share:C$"]["fix"] = f"secret: '{PASSWORD} two words' was wrong"
    result["hosts"][3]["checks"]["logon"]["detail"] = "nthash 8846F7EAEE8FB117AD06BDD830B7586C used"
    # Keys outside the contract never reach a report, whatever they hold.
    result["password"] = PASSWORD
    result["invocation"] = {"module_args": {"account_password": PASSWORD}}
    result["hosts"][0]["password"] = PASSWORD
    result["hosts"][0]["checks"]["logon"]["password"] = PASSWORD
    files = render_all(parse_result(result), SETTINGS)
    summaries = json.dumps(not_ready_summary(parse_result(result)))
    for text in (*files.values(), summaries):
        assert PASSWORD not in text and "two words" not in text and "8846F7EAEE8FB117AD06BDD830B7586C" not in text
    assert f"password={MASK} failed" in files["readiness.json"]


@pytest.mark.parametrize(("text", "expected"), [
    ("password=abc", f"password={MASK}"),
    ("Password: abc def", f"Password: {MASK} def"),
    ('pwd="a b c" end', f"pwd={MASK} end"),
    ("the secret is abc", f"the secret is {MASK}"),
    ("token=abc;x", f"token={MASK}"),
    ("hash aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0", f"hash {MASK}:{MASK}"),
    ("STATUS_LOGON_FAILURE for qualys_scanner", "STATUS_LOGON_FAILURE for qualys_scanner"),
    ("Password expired: change it", "Password expired: change it"),
    ("registry key HKLM\\Software", "registry key HKLM\\Software"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize(("mutate", "message"), [
    (lambda r: r.pop("hosts"), "result.hosts is missing"),
    (lambda r: r.update(hosts={}), "result.hosts must be list"),
    (lambda r: r.pop("domain"), "result.domain is missing"),
    (lambda r: r["hosts"][1].update(ready="yes"), "result.hosts[1].ready must be bool"),
    (lambda r: r["hosts"][1].update(name=""), "result.hosts[1].name is empty"),
    (lambda r: r["hosts"][2]["checks"]["logon"].update(ok=1),
     "result.hosts[2].checks['logon'].ok must be bool or null"),
    (lambda r: r["hosts"][2]["checks"]["logon"].pop("fix"), "result.hosts[2].checks['logon'].fix is missing"),
    (lambda r: r["hosts"][2]["checks"].update(logon="ok"), "result.hosts[2].checks['logon'] must be a dict"),
    (lambda r: r["hosts"].append(copy.deepcopy(r["hosts"][0])), "names a target more than once: dc1.lab1"),
])
def test_bad_results_are_refused_with_the_field_named(result: dict[str, Any], mutate: Any, message: str) -> None:
    mutate(result)
    with pytest.raises(ReportError, match=None) as err:
        parse_result(result)
    assert message in str(err.value)


def test_not_ready_summary_lines(result: dict[str, Any]) -> None:
    lines = not_ready_summary(parse_result(result))
    assert [entry["class"] for entry in lines] == [
        "access_denied", "refused", "registry_unavailable", "timeout", "unreachable"]
    first = lines[0]
    assert first["line"].startswith("t0004.lab1.example.test (10.201.1.4): Access denied on share:C$:")
    assert "Fix: Make the scan account" in first["line"] and "\n" not in first["line"]


def test_sample_result_renders_to_the_committed_sample_reports() -> None:
    """docs/sample-report is what the renderers make of the committed sample result (regenerate on change)."""
    sample = json.loads(SAMPLE.read_text())
    files = render_all(parse_result(sample["result"], sample["generated_at"]), SETTINGS)
    for name, text in files.items():
        assert (SAMPLE.parent / name).read_text(encoding="utf-8") == text, f"docs/sample-report/{name} is stale"


def test_a_not_ready_host_is_explained_by_a_blocking_failure_or_an_untested_required_check(
        result: dict[str, Any]) -> None:
    host = result["hosts"][1]  # t0001, ready; make it not ready with an advisory and an untested share
    host["ready"] = False
    host["checks"]["service:RemoteRegistry"] = check(False, "service_not_automatic", "Manual", "Automatic!",
                                                     required=False)
    host["checks"]["share:ADMIN$"] = check(None, "not_tested", "the run stopped before this check")
    entry = next(e for e in not_ready_summary(parse_result(result)) if e["name"] == host["name"])
    assert (entry["class"], entry["check"]) == ("not_tested", "share:ADMIN$")
    host["checks"]["share:IPC$"] = check(False, "access_denied", "IPC$: denied", "Be an admin.")
    entry = next(e for e in not_ready_summary(parse_result(result)) if e["name"] == host["name"])
    assert (entry["class"], entry["check"], entry["fix"]) == ("access_denied", "share:IPC$", "Be an admin.")


def test_the_dc_cause_of_local_admins_mode_is_shown_like_every_other_class(result: dict[str, Any]) -> None:
    """A DC whose C$ the verifier named dc_needs_domain_admin: its label and fix in all four reports."""
    dc = result["hosts"][0]
    found = failed("share", "dc_needs_domain_admin", "C$: STATUS_ACCESS_DENIED (a domain controller)", True)
    dc["checks"]["share:C$"] = found.as_dict()
    dc["ready"] = False
    report = parse_result(result)
    label = "Domain controller needs a Domain Admin"
    html = render_html(report, SETTINGS)
    assert label in html and "scan them with a Domain Admins account (a second scanner account)" in html
    junit = parse_xml(render_junit(report))
    failures = [f for f in junit.iter("failure") if f.get("type") == "dc_needs_domain_admin"]
    assert len(failures) == 1 and "privilege domain_admins" in (failures[0].get("message") or "")
    doc = json.loads(render_json(report))
    assert doc["summary"]["not_ready_by_class"]["dc_needs_domain_admin"] == 1
    entry = next(h for h in doc["hosts"] if h["name"] == dc["name"])
    assert entry["class"] == "dc_needs_domain_admin"
    assert entry["checks"]["share:C$"]["fix"] == found.fix
    assert label in render_ticket(report, SETTINGS)
    line = next(e for e in not_ready_summary(report) if e["name"] == dc["name"])
    assert line["line"].startswith(f"{dc['name']} (10.201.0.2): {label} on share:C$")


@pytest.mark.parametrize(("text", "cell"), [
    ("a|b", "a\\|b"),
    ("HKLM\\Software", "HKLM\\Software"),  # plain text stays plain
    ("STATUS_ACCESS_DENIED", "STATUS_ACCESS_DENIED"),  # intraword underscores are no emphasis
    ("<img src=x onerror=alert(1)>", "\\<img src=x onerror=alert(1)\\>"),
    ("[click](javascript:alert(1))", "\\[click\\](javascript:alert(1))"),
    ("`x` *y* &amp;", "\\`x\\` \\*y\\* \\&amp;"),
    ("two\nlines", "two lines"),
])
def test_a_ticket_cell_shows_network_text_as_text(text: str, cell: str) -> None:
    """Issue 21, item 7: a host's name or answer in ticket.md is text, never HTML or Markdown the reader renders."""
    assert md_cell(text) == cell


def commonmark(text: str) -> str:
    """text as a ticket system shows it: CommonMark with raw HTML on (markdown-it-py, where installed)."""
    markdown_it = pytest.importorskip("markdown_it")
    return str(markdown_it.MarkdownIt("commonmark", {"html": True}).render(text))


@pytest.mark.parametrize(("text", "span"), [
    ("qualys_scanner", "`qualys_scanner`"),  # plain text: what the ticket always had
    ("a`b", "``a`b``"),  # a run longer than any inside
    ("x``y`z", "```x``y`z```"),
    ("`lead", "`` `lead ``"),  # a space inside each end: CommonMark strips one, the backtick stays text
    ("trail`", "`` trail` ``"),
    ("`", "`` ` ``"),
    (" both ", "`  both  `"),  # CommonMark strips one space from each end, so the text keeps its own
    ("   ", "`   `"),  # only spaces: nothing stripped
    ("", "` `"),  # no empty code span in CommonMark
    ("two\nlines\r\nthree\rfour", "`two lines three four`"),  # a code span is on one line
    ("badin`<script>alert(1)</script>`", "`` badin`<script>alert(1)</script>` ``"),
])
def test_md_code_is_one_code_span_of_the_text(text: str, span: str) -> None:
    assert md_code(text) == span


@pytest.mark.parametrize("text", [
    "qualys_scanner", "a`b", "`lead", "trail`", "``", " both ", "x\n\n- item\n```\n<b>b</b>",
    "badin`<script>alert(1)</script>`", "lab.example.test`<img src=x onerror=alert(1)>`",
])
def test_md_code_renders_as_its_text_in_one_code_element(text: str) -> None:
    shown = commonmark(f"- Username: {md_code(text)}\n")
    escaped = " ".join(text.split("\n")).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert shown == f"<ul>\n<li>Username: <code>{escaped.replace(chr(34), '&quot;')}</code></li>\n</ul>\n"


@pytest.mark.parametrize(("text", "block"), [
    ("10.0.0.1, 10.0.0.2", "```\n10.0.0.1, 10.0.0.2\n```"),  # plain text: what the ticket always had
    ("a\n```\nb", "````\na\n```\nb\n````"),  # a fence line in the text does not close the block
    ("a\n   ````` x\nb", "``````\na\n   ````` x\nb\n``````"),
    ("a\n~~~\nb", "```\na\n~~~\nb\n```"),  # a tilde line never closes a backtick fence
    ("`x`", "```\n`x`\n```"),
])
def test_md_code_block_is_one_fenced_block_of_the_text(text: str, block: str) -> None:
    assert md_code_block(text) == block


@pytest.mark.parametrize("text", [
    "10.0.0.1, 10.0.0.2", "10.0.0.1\n```\n<script>alert(2)</script>", "a\n````\n\n# heading\n``````",
    "a\n~~~\n<b>b</b>", "```", "``` x", "   ```",
])
def test_md_code_block_renders_as_its_text_in_one_block(text: str) -> None:
    shown = commonmark(f"Addresses:\n\n{md_code_block(text)}\n\nThe password is not part of this ticket.\n")
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert shown == (f"<p>Addresses:</p>\n<pre><code>{escaped}\n</code></pre>\n"
                     "<p>The password is not part of this ticket.</p>\n")


def test_ticket_keeps_the_account_domain_and_addresses_in_their_code(result: dict[str, Any]) -> None:
    """Issue 21: the operator's account and domain and a ready host's address, however they are written,
    stay text inside the ticket's own code (two code spans and one block), and nothing after them is code."""
    result["account"] = "badin`<script>alert(1)</script>`"
    result["domain"] = "`lab.example.test`<img src=x onerror=alert(1)>"
    result["hosts"][0]["address"] += "\n```\n<script>alert(2)</script>"
    shown = commonmark(render_ticket(parse_result(result), SETTINGS))
    assert shown.count("<code>") == 3 and shown.count("</pre>") == 1, shown
    assert "<li>Username of the scan account: <code>badin`&lt;script&gt;alert(1)&lt;/script&gt;`</code></li>" in shown
    assert "<li>Domain of the scan account: <code>`lab.example.test`&lt;img src=x onerror=alert(1)&gt;</code>" in shown
    assert "10.201.1.8, 10.201.0.2\n```\n&lt;script&gt;alert(2)&lt;/script&gt;\n</code></pre>" in shown
    assert "<script" not in shown and "<img" not in shown
    assert shown.index("</pre>") < shown.index("The password is not part of this ticket")
