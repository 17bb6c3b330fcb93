"""The verify role: its report step from a saved result (no lab), and the whole role against the lab."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_support import REPO, LabInfo, load_lab, run_module, run_playbook
from tests.unit.test_report import fleet_result

REPORT_PLAY = """\
- name: Reports from a saved scan_readiness result
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Report
      ansible.builtin.include_role:
        name: scanready.windows.verify
        tasks_from: report
"""


def recap(proc: subprocess.CompletedProcess[str]) -> dict[str, int]:
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("localhost "))
    return {k: int(v) for k, v in (item.split("=") for item in line.split(":", 1)[1].split())}


def run_report_step(tmp_path: Path, result: dict[str, Any], **extra: Any) -> subprocess.CompletedProcess[str]:
    play = tmp_path / "report.yml"
    play.write_text(REPORT_PLAY)
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"scanready_verify_result": result,
                                     "scanready_report_dir": str(tmp_path / "reports"), **extra}))
    return run_playbook(play, Path("localhost,"), "-e", f"@{variables}", "-c", "local")


def test_report_step_fails_on_not_ready_targets_after_writing_the_reports(tmp_path: Path) -> None:
    proc = run_report_step(tmp_path, fleet_result(8))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout
    assert "5 of 9 targets are not ready for authenticated scanning" in out
    assert "t0002.lab1.example.test (10.201.1.2): Unreachable (filtered) on logon: no answer from" in out
    assert "t0004.lab1.example.test (10.201.1.4): Access denied on share:C$" in out
    reports = tmp_path / "reports"
    assert sorted(p.name for p in reports.iterdir()) == ["junit.xml", "readiness.html", "readiness.json", "ticket.md"]
    assert f"HTML report:  {reports / 'readiness.html'}" in out
    doc = json.loads((reports / "readiness.json").read_text())
    assert doc["summary"]["not_ready"] == 5


def test_a_relative_report_dir_is_taken_from_where_ansible_playbook_runs(tmp_path: Path) -> None:
    """Ansible runs local modules in the playbook's directory (for an installed collection's
    playbook, inside the collection): the reports must still land where the operator stands."""
    plays, work = tmp_path / "plays", tmp_path / "work"
    plays.mkdir()
    work.mkdir()
    (plays / "report.yml").write_text(REPORT_PLAY)
    (tmp_path / "vars.json").write_text(json.dumps({"scanready_verify_result": fleet_result(2),
                                                    "scanready_verify_fail_on_not_ready": False}))
    proc = run_playbook(plays / "report.yml", Path("localhost,"), "-e", f"@{tmp_path / 'vars.json'}", "-c", "local",
                        cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (work / "reports" / "readiness.html").is_file()
    assert not (plays / "reports").exists()


def test_report_templates_provider_and_subject_change_the_reports(tmp_path: Path) -> None:
    """The role's wording variables; a relative templates directory is the operator's, like the report dir."""
    plays, work = tmp_path / "plays", tmp_path / "work"
    plays.mkdir()
    (work / "mine").mkdir(parents=True)
    (plays / "report.yml").write_text(REPORT_PLAY)
    copies = REPO / "docs" / "report-templates"
    (work / "mine" / "readiness.html.j2").write_text(
        (copies / "readiness.html.j2").read_text().replace("<h1>Scan readiness:", "<h1>Scan status:"))
    (work / "mine" / "ticket.md.j2").write_text((copies / "ticket.md.j2").read_text().replace("Hello,", "Dear team,"))
    shipped = {"scanready_verify_result": fleet_result(2), "scanready_verify_fail_on_not_ready": False}
    (tmp_path / "shipped.json").write_text(json.dumps(shipped))
    (tmp_path / "mine.json").write_text(json.dumps({
        **shipped, "scanready_verify_report_templates_dir": "mine",
        "scanready_verify_report_provider": "Example Scanning",
        "scanready_verify_report_ticket_subject": "Windows scanning, please"}))

    def reports(variables: str) -> tuple[str, str]:
        proc = run_playbook(plays / "report.yml", Path("localhost,"), "-e", f"@{tmp_path / variables}", "-c", "local",
                            cwd=work)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return (work / "reports" / "readiness.html").read_text(), (work / "reports" / "ticket.md").read_text()

    html, ticket = reports("shipped.json")
    assert "<h1>Scan readiness: lab1.example.test</h1>" in html and "ticket.md (for Qualys)" in html
    assert ticket.startswith("Subject: Qualys scan \u2013 with Windows authentication\n\nHello,\n")
    html, ticket = reports("mine.json")
    assert "<h1>Scan status: lab1.example.test</h1>" in html and "ticket.md (for Example Scanning)" in html
    assert ticket.startswith("Subject: Windows scanning, please\n\nDear team,\n")


def test_report_step_passes_when_told_not_to_fail_and_is_idempotent(tmp_path: Path) -> None:
    first = run_report_step(tmp_path, fleet_result(8), scanready_verify_fail_on_not_ready=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first)["changed"] == 1
    again = run_report_step(tmp_path, fleet_result(8), scanready_verify_fail_on_not_ready=False)
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.stdout


def test_report_step_passes_when_every_target_is_ready(tmp_path: Path) -> None:
    result = fleet_result(1)  # the DC and t0001, both ready
    proc = run_report_step(tmp_path, result)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Scan readiness: 2 of 2 targets ready, 0 not ready." in proc.stdout
    assert "Show why each target that is not ready" not in proc.stdout.split("TASK [")[-1]


def test_main_entry_point_requires_the_credentials(tmp_path: Path) -> None:
    play = tmp_path / "verify.yml"
    play.write_text("- name: Verify\n  hosts: localhost\n  gather_facts: false\n  roles:\n"
                    "    - role: scanready.windows.verify\n")
    proc = run_playbook(play, Path("localhost,"), "-c", "local", "-e", "scanready_domain=example.test")
    assert proc.returncode == 2
    assert "missing required arguments: scanready_account_password" in proc.stdout
    assert "TASK [scanready.windows.verify : Verify every target" not in proc.stdout


def test_report_step_argument_spec_refuses_bad_values(tmp_path: Path) -> None:
    proc = run_report_step(tmp_path, fleet_result(1), scanready_verify_fail_on_not_ready="perhaps")
    assert proc.returncode == 2
    assert "scanready_verify_fail_on_not_ready" in proc.stdout and "bool" in proc.stdout
    assert not (tmp_path / "reports").exists()


# ------------------------------------------------------------------ the whole role against the lab

LAB_INSTANCE = "report"
VERIFY_PLAY = """\
- name: Verify the scan targets
  hosts: scan_targets
  gather_facts: false
  roles:
    - role: scanready.windows.verify
"""
# What each lab class must be reported as: the class, the check it fails on and words of its fix.
EXPECTED = {
    "firewall_blocked": ("unreachable", "logon", "445"),
    "port_closed": ("refused", "logon", "445"),
    "share_denied": ("access_denied", "share:C$", "administrator"),
    "registry_off": ("registry_unavailable", "registry:HKLM\\Software", "Remote Registry"),
}


@pytest.fixture(scope="module")
def verify_lab() -> Iterator[LabInfo]:
    """The `report` lab instance with the scanner account in place (removed again afterwards)."""
    lab = load_lab(LAB_INSTANCE)
    account = {**lab.connection_args(), "name": lab.vars["scanready_account_name"],
               "password": lab.vars["scanready_account_password"]}
    created = run_module("scan_account", account)
    assert not created.failed, created.output
    try:
        yield lab
    finally:
        run_module("scan_account", {**account, "state": "absent"})


def failed_hosts(proc: subprocess.CompletedProcess[str]) -> set[str]:
    recap_lines = proc.stdout.split("PLAY RECAP")[-1].splitlines()
    return {ln.split()[0] for ln in recap_lines if " failed=" in ln and " failed=0 " not in ln}


@pytest.mark.lab
def test_role_verifies_the_lab_and_reports_every_class(verify_lab: LabInfo, tmp_path: Path) -> None:
    lab = verify_lab
    play = tmp_path / "verify.yml"
    play.write_text(VERIFY_PLAY)
    reports = tmp_path / "reports"
    secrets = [lab.vars["scanready_account_password"], lab.vars["scanready_admin_password"]]

    # Check mode: the targets are verified (read-only) but no report is written.
    preview = run_playbook(play, lab.inventory, "--check", "-e", f"scanready_report_dir={reports}")
    assert "Scan readiness:" in preview.stdout, preview.stdout + preview.stderr
    assert not reports.exists()

    # The run: reports written, every not-ready lab target fails on its own, ready ones do not.
    run = run_playbook(play, lab.inventory, "-vvvv", "-e", f"scanready_report_dir={reports}")
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr
    doc = json.loads((reports / "readiness.json").read_text())
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert set(hosts) == {t.name for t in lab.targets}
    assert (doc["account"], doc["domain"]) == (lab.vars["scanready_account_name"], lab.vars["scanready_domain"])
    for target in lab.targets:
        host = hosts[target.name]
        assert host["address"] == target.address
        if target.expected == "ready":
            assert host["ready"] and host["class"] == "ok", host
            assert host["auth_scheme"] == "kerberos-aes", host  # Kerberos AES works against the lab's KDC
        elif target.expected == "slow":  # a slow link: ready, or timed out with the timeout named
            assert host["ready"] or host["class"] == "timeout", host
        else:
            cls, check_name, fix_words = EXPECTED[target.expected]
            assert not host["ready"] and host["class"] == cls, (target, host)
            failing = host["checks"][check_name]
            assert failing["ok"] is False and failing["class"] == cls
            assert fix_words.lower() in (failing["fix"] or "").lower(), failing
            assert f"{target.name} ({target.address}): " in run.stdout  # its one-line summary
    not_ready = {n for n, h in hosts.items() if not h["ready"]}
    assert failed_hosts(run) == not_ready
    assert doc["summary"] == {**doc["summary"], "total": len(hosts), "not_ready": len(not_ready)}
    assert f"HTML report:  {reports / 'readiness.html'}" in run.stdout
    ticket = (reports / "ticket.md").read_text()
    ready_addresses = ticket.split("```")[1]
    for name, host in hosts.items():
        assert (host["address"] in ready_addresses) == host["ready"], name
    for secret in secrets:
        assert secret not in run.stdout + run.stderr
        for report in reports.iterdir():
            assert secret not in report.read_text(encoding="utf-8"), report.name

    # Again, told not to fail: the play passes and the reports are unchanged.
    again = run_playbook(play, lab.inventory, "-e", f"scanready_report_dir={reports}",
                         "-e", "scanready_verify_fail_on_not_ready=false")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    report_task = again.stdout.split("TASK [scanready.windows.verify : Write readiness.json")[1].split("TASK [")[0]
    assert "ok: [" in report_task and "changed: [" not in report_task, report_task
