"""scan_window.yml on the default lab: the account enabled until the window's end, the targets verified;
a window already over stops at the DC with the cause and its fix, nothing logs on anywhere, and the reports
say so for every target.

accountExpires and badPwdCount are read with Samba itself (ldb_search), not through our LDAP code.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_support import REPO, LabInfo, ldb_search, load_lab, run_module, run_playbook

pytestmark = pytest.mark.lab

PLAYBOOK = REPO / "playbooks" / "scan_window.yml"
UF_ACCOUNTDISABLE = 0x2
FILETIME_EPOCH_S = 11_644_473_600  # seconds from 1601-01-01 to 1970-01-01
NEVER = {0, 0x7FFFFFFFFFFFFFFF}


@pytest.fixture(scope="module")
def window_lab() -> Iterator[LabInfo]:
    """The default lab with the scanner account in place; afterwards as it was (enabled, no expiry, or gone
    again when this module made it)."""
    lab = load_lab()
    made = run_module("scan_account", account_args(lab))
    assert not made.failed, made.output
    try:
        yield lab
    finally:
        if made.result.get("created"):
            run_module("scan_account", {**account_args(lab), "state": "absent"})
        else:
            run_module("scan_account", {**account_args(lab), "expires": "never"})


def account_args(lab: LabInfo) -> dict[str, Any]:
    return {**lab.connection_args(), "name": lab.vars["scanready_account_name"],
            "password": lab.vars["scanready_account_password"]}


def account(lab: LabInfo) -> dict[str, list[str]]:
    found = ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={lab.vars['scanready_account_name']})",
                       "userAccountControl", "accountExpires", "badPwdCount")
    assert len(found) == 1, found
    return found[0]


def expires_at(entry: dict[str, list[str]]) -> float | None:
    """accountExpires as a Unix time; None for never."""
    value = int(entry.get("accountExpires", ["0"])[0])
    return None if value in NEVER else value / 10_000_000 - FILETIME_EPOCH_S


def window(lab: LabInfo, tmp_path: Path, expires: str, *extra: str) -> tuple[int, str, Path]:
    reports = tmp_path / "reports"
    variables = {"scanready_report_dir": str(reports), "scanready_verify_fail_on_not_ready": False,
                 "scanready_account_expires": expires}
    proc = run_playbook(PLAYBOOK, lab.inventory, "-e", json.dumps(variables), *extra)
    output = proc.stdout + proc.stderr
    for secret in (lab.vars["scanready_admin_password"], lab.vars["scanready_account_password"]):
        assert secret not in output
    return proc.returncode, output, reports


def test_a_one_hour_window_enables_the_account_until_then_and_verifies(window_lab: LabInfo, tmp_path: Path) -> None:
    lab = window_lab
    disabled = run_module("scan_account", {**account_args(lab), "state": "disabled"})
    assert not disabled.failed, disabled.output
    assert int(account(lab)["userAccountControl"][0]) & UF_ACCOUNTDISABLE

    # Check mode: the account stage shows the change and makes none. (Not the verify stage: the account is
    # still disabled, and the guard would record that refusal for the real run that follows.)
    before = account(lab)
    code, output, _reports = window(lab, tmp_path, "1h", "--check", "--tags", "account")
    assert code == 0, output[-3000:]
    assert "changed=1" in output
    assert account(lab) == before

    asked = time.time()
    code, output, reports = window(lab, tmp_path, "1h")
    assert code == 0, output[-5000:]
    entry = account(lab)
    assert not int(entry["userAccountControl"][0]) & UF_ACCOUNTDISABLE, "the window enabled the account"
    ends = expires_at(entry)
    assert ends is not None and abs(ends - (asked + 3600)) < 60, (ends, asked)

    doc = json.loads((reports / "readiness.json").read_text())
    hosts = {h["name"]: h for h in doc["hosts"]}
    assert set(hosts) == {t.name for t in lab.targets}
    for target in lab.by_class("ready"):
        assert hosts[target.name]["ready"], hosts[target.name]
    assert "Scan readiness:" in output


def test_a_window_already_over_stops_at_the_dc_and_nothing_logs_on(window_lab: LabInfo, tmp_path: Path) -> None:
    lab = window_lab
    bad_before = account(lab).get("badPwdCount", ["0"])
    earlier = tmp_path / "reports"
    earlier.mkdir()
    for name in ("readiness.json", "junit.xml"):
        (earlier / name).write_text("an earlier run's report")
    code, output, reports = window(lab, tmp_path, "2020-01-01T00:00:00Z")
    assert code != 0, output[-3000:]
    ends = expires_at(account(lab))
    assert ends is not None and ends < time.time()
    flat = re.sub(r"\s+", " ", output)
    assert "says the account has expired" in flat, output[-3000:]
    assert "The scan window ended: run scanready.windows.scan_window with scanready_account_expires" in flat
    assert "No target was contacted" in flat
    assert account(lab).get("badPwdCount", ["0"]) == bad_before
    # The reports are this run's, not the earlier ones: every target not ready, with the DC's answer.
    assert "The reports say so for every target" in flat
    doc = json.loads((reports / "readiness.json").read_text())
    assert doc["summary"]["ready"] == 0 and {h["name"] for h in doc["hosts"]} == {t.name for t in lab.targets}
    assert {h["checks"]["logon"]["class"] for h in doc["hosts"]} == {"account_expired"}
    assert all("says the account has expired" in h["checks"]["logon"]["detail"] for h in doc["hosts"])
    assert (reports / "junit.xml").read_text().count("<failure ") == len(lab.targets)
    assert "please set up authenticated" not in output, "no ticket is shown for a run no target was tried in"

    # The refusal is recorded on the controller; the next window moves the expiry, which ends that refusal.
    code, output, reports = window(lab, tmp_path, "1h")
    assert code == 0, output[-3000:]
    assert (reports / "readiness.json").exists()


def test_a_window_never_creates_the_account(window_lab: LabInfo, tmp_path: Path) -> None:
    lab = window_lab
    name = "sr_nowindow"
    code, output, _reports = window(lab, tmp_path, "1h", "-e", f"scanready_account_name={name}", "--tags", "account")
    assert code != 0
    assert "does not exist" in re.sub(r"\s+", " ", output) and "site" in output
    assert ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={name})", "cn") == []
