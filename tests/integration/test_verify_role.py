"""The verify role: its report step from a saved result (no lab), and the whole role against the lab."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.lab_support import run_playbook
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


def test_report_step_argument_spec_refuses_bad_values(tmp_path: Path) -> None:
    proc = run_report_step(tmp_path, fleet_result(1), scanready_verify_fail_on_not_ready="perhaps")
    assert proc.returncode == 2
    assert "scanready_verify_fail_on_not_ready" in proc.stdout and "bool" in proc.stdout
    assert not (tmp_path / "reports").exists()
