"""The AWX job templates (docs/awx/job_templates.yml) and the merge of a sliced run's reports.

Each job template must carry every credential its playbook reads: the plays it runs (after its job
tags and skip tags) name roles, the roles' tasks read the credential variables (their defaults do not
count: a default scanner name is exactly what a missing credential silently falls back to), and a
role that runs ansible.windows modules needs the Machine credential for WinRM. docs/awx.md's table
says the same as the file. docs/awx/merge_reports.yml merges slices back into the report of one run.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.lab_support import REPO, run_playbook

AWX = REPO / "docs" / "awx"
PLAYBOOKS = REPO / "playbooks"
SAMPLE = REPO / "docs" / "sample-report" / "readiness.json"


def definitions() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((AWX / "job_templates.yml").read_text())
    return data


def injected_by_type() -> dict[str, set[str]]:
    """The variables each custom credential type injects, by the type's name."""
    types = [yaml.safe_load(p.read_text()) for p in sorted((AWX / "credential_types").glob("*.yml"))]
    return {t["name"]: set(t["injectors"]["extra_vars"]) for t in types}


def plays(playbook: Path) -> list[dict[str, Any]]:
    """The plays of a playbook, import_playbook followed."""
    found: list[dict[str, Any]] = []
    for play in yaml.safe_load(playbook.read_text()):
        imported = play.get("ansible.builtin.import_playbook")
        found += plays(playbook.parent / imported) if imported else [play]
    return found


def roles_of(play: dict[str, Any]) -> list[str]:
    names = [r["role"] if isinstance(r, dict) else r for r in play.get("roles", [])]
    for task in play.get("tasks", []):
        for inner in [task, *task.get("block", []), *task.get("always", [])]:
            if "ansible.builtin.import_role" in inner:
                names.append(inner["ansible.builtin.import_role"]["name"])
    return [n.removeprefix("scanready.windows.") for n in names]


def runs(play: dict[str, Any], template: dict[str, Any]) -> bool:
    tags = set(play.get("tags", []))
    only, skip = template.get("job_tags"), template.get("skip_tags")
    return (not only or only in tags) and not (skip and skip in tags)


def needed_credential_types(template: dict[str, Any]) -> set[str]:
    """The credential types a job template's playbook reads from, after its tags."""
    injected = injected_by_type()
    needed: set[str] = set()
    for play in plays(PLAYBOOKS / template["playbook"]):
        if not runs(play, template):
            continue
        for role in roles_of(play):
            tasks = "\n".join(p.read_text() for p in sorted((REPO / "roles" / role / "tasks").glob("*.yml")))
            read = set(re.findall(r"\b(scanready_\w+)", tasks))
            needed |= {name for name, variables in injected.items() if variables & read}
            if "ansible.windows." in tasks:
                needed.add("Machine")
    return needed


def template_credential_types(template: dict[str, Any]) -> set[str]:
    by_name = {c["name"]: c["credential_type"] for c in definitions()["credentials"]}
    return {by_name[name] for name in template["credentials"]}


def test_every_credential_type_named_exists() -> None:
    named = {c["credential_type"] for c in definitions()["credentials"]}
    assert named == set(injected_by_type()) | {"Machine"}


@pytest.mark.parametrize("template", definitions()["job_templates"], ids=lambda t: t["name"])
def test_job_template_carries_every_credential_its_playbook_reads(template: dict[str, Any]) -> None:
    if template["playbook"] == "merge_reports.yml":
        assert template["credentials"] == []  # reads report files only
        return
    assert (PLAYBOOKS / template["playbook"]).is_file()
    assert needed_credential_types(template) == template_credential_types(template), template["name"]


def test_rollback_disables_the_account_the_scanner_credential_names() -> None:
    rollback = next(t for t in definitions()["job_templates"] if t["playbook"] == "rollback.yml")
    expected = {"scanready operator (domain)", "scanready scanner account", "Machine"}
    assert template_credential_types(rollback) == expected
    assert rollback["ask_job_type_on_launch"] is True  # a Check run first


def test_sliced_templates_skip_the_domain_stages() -> None:
    """The domain stages run on localhost, which is in every slice: a sliced template must skip them."""
    for template in definitions()["job_templates"]:
        if template.get("job_slice_count", 1) > 1:
            assert template.get("skip_tags") == "domain" or "domain" not in {
                tag for play in plays(PLAYBOOKS / template["playbook"]) for tag in play.get("tags", [])}
            assert "job-{{ awx_job_id }}" in template["extra_vars"]["scanready_report_dir"]


def test_the_guide_table_says_what_the_file_says() -> None:
    guide = (REPO / "docs" / "awx.md").read_text()
    for template in definitions()["job_templates"]:
        row = next((line for line in guide.splitlines() if line.startswith(f"| {template['name']} |")), None)
        assert row, f"docs/awx.md has no row for {template['name']}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == f"`{template['playbook']}`", row
        credentials = {c.removeprefix("scanready ") for c in template["credentials"]}
        listed = set() if cells[3] == "none" else set(re.split(r",\s*", cells[3]))
        assert listed == credentials, row
    words = " ".join(guide.split())
    for workflow in definitions()["workflow_job_templates"]:
        assert " → ".join(f"*{n}*" for n in workflow["nodes"]) in words


# --- merging the slices of a run ------------------------------------------------------------------

def write_slices(run: Path, parts: list[list[dict[str, Any]]]) -> dict[str, Any]:
    sample: dict[str, Any] = json.loads(SAMPLE.read_text())
    for number, hosts in enumerate(parts, 1):
        (run / f"job-{100 + number}").mkdir(parents=True)
        (run / f"job-{100 + number}" / "readiness.json").write_text(json.dumps(dict(sample, hosts=hosts)))
    return sample


def merge(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_playbook(AWX / "merge_reports.yml", Path("localhost,"), "-c", "local",
                        "-e", f"scanready_merge_reports_root={root}",
                        "-e", f"ansible_python_interpreter={REPO / '.venv' / 'bin' / 'python'}", *extra, timeout=120)


def test_merged_report_of_three_slices_is_the_report_of_the_whole_run(tmp_path: Path) -> None:
    hosts = json.loads(SAMPLE.read_text())["hosts"]
    (tmp_path / "older-run").mkdir()
    sample = write_slices(tmp_path / "4711", [hosts[0::3], hosts[1::3], hosts[2::3]])
    proc = merge(tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "3 slices merged" in proc.stdout
    merged = json.loads((tmp_path / "4711" / "merged" / "readiness.json").read_text())
    assert merged["hosts"] == sample["hosts"] and merged["summary"] == sample["summary"]
    assert sorted(p.name for p in (tmp_path / "4711" / "merged").iterdir()) == [
        "junit.xml", "readiness.html", "readiness.json", "ticket.md"]


def test_a_host_in_two_slices_fails_the_merge(tmp_path: Path) -> None:
    hosts = json.loads(SAMPLE.read_text())["hosts"]
    write_slices(tmp_path / "4712", [hosts[:5], hosts[4:]])
    proc = merge(tmp_path, "-e", f"scanready_merge_run_dir={tmp_path / '4712'}")
    assert proc.returncode != 0
    assert "more than once" in proc.stdout
    assert not (tmp_path / "4712" / "merged").exists()
