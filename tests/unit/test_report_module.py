"""readiness_report through real Ansible (no lab needed): check mode, writing, idempotency, diff, bad input."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.scanready.windows.plugins.module_utils._report.files import REPORT_FILES, render_all
from ansible_collections.scanready.windows.plugins.module_utils._report.model import parse_result
from ansible_collections.scanready.windows.plugins.modules import readiness_report

from tests.lab_support import BIN, REPO, ansible_env, run_module, run_playbook
from tests.unit.test_report import PASSWORD, SETTINGS, fleet_result

COPIES = REPO / "docs" / "report-templates"


def written(dest: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(dest.iterdir())}


def test_check_mode_then_write_then_unchanged(tmp_path: Path) -> None:
    dest = tmp_path / "nested" / "reports"
    result = fleet_result(8)
    args: dict[str, Any] = {"result": result, "dest": str(dest)}

    preview = run_module("readiness_report", args, check=True)
    assert not preview.failed, preview.output
    assert preview.changed and preview.result["changed_files"] == list(REPORT_FILES)
    assert not (tmp_path / "nested").exists()  # check mode creates nothing

    first = run_module("readiness_report", args)
    assert first.changed and not first.failed, first.output
    assert written(dest) == render_all(parse_result(result), SETTINGS)
    assert first.result["files"] == {name: str(dest / name) for name in REPORT_FILES}
    assert first.result["summary"] == {"total": 9, "ready": 4, "not_ready": 5}
    assert [e["name"] for e in first.result["not_ready"]] == [
        "t0004.lab1.example.test", "t0003.lab1.example.test", "t0005.lab1.example.test",
        "t0006.lab1.example.test", "t0002.lab1.example.test"]

    again = run_module("readiness_report", args)
    assert not again.changed and again.result["changed_files"] == [], again.output
    again_check = run_module("readiness_report", args, check=True)
    assert not again_check.changed


def test_only_changed_files_are_rewritten_and_diffed(tmp_path: Path) -> None:
    result = fleet_result(8)
    args: dict[str, Any] = {"result": result, "dest": str(tmp_path)}
    assert run_module("readiness_report", args).changed
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("keep me")
    mtimes = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    # A fixed host: every report changes (ticket gains an address; json, junit and html the verdict).
    result["hosts"][4]["ready"] = True
    result["hosts"][4]["checks"]["share:C$"].update(ok=True, **{"class": "ok"}, fix=None)
    fixed = run_module("readiness_report", args, check=True, diff=True)
    assert fixed.changed and set(fixed.result["changed_files"]) == set(REPORT_FILES)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == mtimes  # check mode wrote nothing
    diffs = {Path(d["after_header"]).name: d for d in fixed.result["diff"]}
    assert '"ready": false' in diffs["readiness.json"]["before"]
    assert "10.201.1.4" in diffs["ticket.md"]["after"].split("```")[1]

    assert run_module("readiness_report", args, diff=True).changed
    assert unrelated.read_text() == "keep me"
    # Only the run time stamp differs: every file changes, and says when.
    stamped = run_module("readiness_report", {**args, "generated_at": "2030-01-01T00:00:00Z"})
    assert stamped.changed and all("2030-01-01T00:00:00Z" in text for name, text in written(tmp_path).items()
                                   if name in REPORT_FILES)


def test_bad_result_fails_with_one_message_and_writes_nothing(tmp_path: Path) -> None:
    result = fleet_result(2)
    result["hosts"][1]["checks"]["logon"]["ok"] = "yes"
    run = run_module("readiness_report", {"result": result, "dest": str(tmp_path / "r")})
    assert run.failed
    assert run.result["msg"] == ("readiness_report: result.hosts[1].checks['logon'].ok must be bool or null, "
                                 "not str")
    assert not (tmp_path / "r").exists()


def test_dest_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("not a directory")
    run = run_module("readiness_report", {"result": fleet_result(1), "dest": str(blocker)})
    assert run.failed and "is not a directory" in run.result["msg"]
    assert blocker.read_text() == "not a directory"


def test_password_like_text_in_a_result_is_masked_in_files_and_return(tmp_path: Path) -> None:
    """The module has no password option; what a result carries in free text or extra keys is dropped or masked.

    (Ansible echoes a module's input under `invocation` at -vvv; the result it gets from scan_readiness
    has that module's no_log values already replaced by Ansible. The role's test checks -vvvv output.)
    """
    result = fleet_result(8)
    result["hosts"][4]["checks"]["share:C$"]["detail"] = f"session setup with password={PASSWORD} refused"
    result["invocation"] = {"module_args": {"account_password": PASSWORD}}
    run = run_module("readiness_report", {"result": result, "dest": str(tmp_path)}, verbosity=4)
    assert run.changed and not run.failed, run.output
    for text in written(tmp_path).values():
        assert PASSWORD not in text
    assert "password=********" in (tmp_path / "readiness.json").read_text()
    assert PASSWORD not in str({k: v for k, v in run.result.items() if k != "invocation"})


def test_documentation_renders() -> None:
    proc = subprocess.run([str(BIN / "ansible-doc"), "scanready.windows.readiness_report"], capture_output=True,
                          text=True, env=ansible_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    assert "generated_at" in proc.stdout and "changed_files" in proc.stdout


def test_templates_dir_provider_and_subject_through_ansible(tmp_path: Path) -> None:
    mine = tmp_path / "templates"
    mine.mkdir()
    (mine / "ticket.md.j2").write_text((COPIES / "ticket.md.j2").read_text().replace("Hello,", "Dear team,"))
    args: dict[str, Any] = {"result": fleet_result(8), "dest": str(tmp_path / "r"), "templates_dir": str(mine),
                            "provider": "Example Scanning", "ticket_subject": "Windows scanning, please"}
    run = run_module("readiness_report", args)
    assert run.changed and not run.failed, run.output
    ticket = (tmp_path / "r" / "ticket.md").read_text()
    assert ticket.startswith("Subject: Windows scanning, please\n\nDear team,\n")
    assert "ticket.md (for Example Scanning)" in (tmp_path / "r" / "readiness.html").read_text()
    assert not run_module("readiness_report", args).changed
    (mine / "ticket.md.j2").write_text("{{ report.account }} {% if %}")
    broken = run_module("readiness_report", args)
    assert broken.failed and broken.result["msg"] == (
        f"readiness_report: template {mine / 'ticket.md.j2'}, line 1: Expected an expression, got 'end of "
        "statement block'")


def test_the_examples_write_where_ansible_playbook_runs_with_the_users_templates(tmp_path: Path) -> None:
    """The EXAMPLES' report tasks, verbatim, in a playbook elsewhere: ./reports of the working directory,
    and the ticket from the edited copy in report-templates/ next to the playbook."""
    examples = yaml.safe_load(readiness_report.EXAMPLES)
    tasks = [t for t in examples if "scanready.windows.readiness_report" in t and "realpath" in
             t["scanready.windows.readiness_report"]["dest"]]
    assert len(tasks) == 2
    plays, work = tmp_path / "plays", tmp_path / "work"
    (plays / "report-templates").mkdir(parents=True)
    work.mkdir()
    (plays / "report-templates" / "ticket.md.j2").write_text(
        (COPIES / "ticket.md.j2").read_text().replace("Hello,", "Dear Example Scanning team,"))
    (plays / "report.yml").write_text(yaml.safe_dump(
        [{"name": "Reports", "hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False))
    (tmp_path / "vars.json").write_text(json.dumps({"readiness": fleet_result(8)}))
    proc = run_playbook(plays / "report.yml", Path("localhost,"), "-c", "local", "-e", f"@{tmp_path / 'vars.json'}",
                        cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (plays / "reports").exists()
    ticket = (work / "reports" / "ticket.md").read_text()
    assert ticket.startswith("Subject: Authenticated Windows scanning for example.com\n\nDear Example Scanning team,")
