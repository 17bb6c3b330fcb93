"""The wmi_privacy role as far as it can be proven here, without a Windows host.

Real ansible-playbook runs prove: the syntax, the argument specs rejecting bad input, hosts without WinRM
skipped with one line and no connection attempt, and the molecule/windows scenario skipping (not passing)
when no host is named. The role's control flow (check mode, the winmgmt command and the record written before
it, the restart of exactly the running dependants, a restart that failed finished by the next run, idempotence,
a rollback of only the hosts the role moved, bounded waits) runs against a simulated host (fake_windows.py): a
stand-in `ansible.windows` collection whose modules keep a Windows-like service, process and registry state in a
JSON file, reached through a `winrm` connection that runs them locally. The simulation follows what
docs/windows-host-testing.md says of `winmgmt /standalonehost 6`; molecule/windows checks the same against real
Windows.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.fake_windows import OWN, SHARED, FakeWindows, build_tree, recap
from tests.lab_support import BIN, REPO, ansible_env, run_playbook

RECORDED = r"regedit HKLM:\SOFTWARE\scanready\windows WmiPriorHostMode=shared"
FORGOTTEN = r"regedit HKLM:\SOFTWARE\scanready\windows WmiPriorHostMode=(deleted)"
RESTART = ("stop Winmgmt iphlpsvc NcaSvc", "start Winmgmt", "start iphlpsvc", "start NcaSvc")
UNROUTABLE = "192.0.2.10"  # TEST-NET-1: any connection attempt would hang, then fail as unreachable

PLAYBOOK = """\
- name: WMI Packet Privacy
  hosts: scan_targets
  gather_facts: false
  roles:
    - role: scanready.windows.wmi_privacy
"""


def said(output: str) -> str:
    """Ansible's output as one line: the YAML callback wraps long messages and doubles quotes in them."""
    return " ".join(output.split()).replace("''", "'")


def write_inventory(path: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"all": {"children": {"scan_targets": {"hosts": hosts}}}}))
    return path


# --- without any host -------------------------------------------------------------------------------

def test_playbook_using_the_role_passes_syntax_check(tmp_path: Path) -> None:
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    inventory = write_inventory(tmp_path / "hosts.yml", {"t1": {"ansible_host": UNROUTABLE}})
    proc = run_playbook(playbook, inventory, "--syntax-check", timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_argument_specs_reject_bad_types(tmp_path: Path) -> None:
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK.replace("scan_targets", "localhost"))
    bad = {"scanready_gpupdate": "maybe", "scanready_wmi_revert": "perhaps",
           "scanready_wmi_service_timeout": "soon", "scanready_wmi_gpupdate_wait": "later"}
    proc = run_playbook(playbook, Path("localhost,"), "-c", "local", "-e", json.dumps(bad), timeout=120)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "failed=1" in output
    assert "Validating arguments against arg spec 'main'" in output
    for name in bad:
        assert name in output
    assert "Set WMI Packet Privacy over WinRM" not in output  # refused before anything else ran


def test_waits_out_of_bounds_are_refused_before_connecting(tmp_path: Path) -> None:
    # A WinRM host on a closed port: the refusal comes from the controller, before any connection is tried.
    inventory = write_inventory(tmp_path / "hosts.yml", {"win1": {
        "ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "winrm",
        "ansible_user": "someone", "ansible_password": "unused"}})
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    proc = run_playbook(playbook, inventory, "-e", "scanready_wmi_service_timeout=0 scanready_wmi_gpupdate_wait=3601",
                        timeout=120)
    output = proc.stdout + proc.stderr
    assert recap(output)["win1"]["failed"] == 1 and recap(output)["win1"]["unreachable"] == 0
    assert ("scanready_wmi_service_timeout (0) and scanready_wmi_gpupdate_wait (3601) must be seconds from 1 to 3600"
            in said(output))


def test_hosts_without_winrm_are_skipped_with_one_line_and_no_connection(tmp_path: Path) -> None:
    # Shaped like the lab's targets (ansible_host, lab_expected, no ansible_connection), plus WinRM hosts (short and
    # FQCN connection names) on a closed port to show the role does go to them (they become unreachable).
    inventory = write_inventory(tmp_path / "hosts.yml", {
        "t0001.lab1.example.test": {"ansible_host": UNROUTABLE, "lab_expected": "ready"},
        "t0002.lab1.example.test": {"ansible_host": UNROUTABLE, "lab_expected": "share_denied"},
        "win1": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "winrm",
                 "ansible_user": "someone", "ansible_password": "unused"},
        "win2": {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_connection": "ansible.builtin.winrm",
                 "ansible_user": "someone", "ansible_password": "unused"},
    })
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    proc = run_playbook(playbook, inventory, "--check", timeout=120)
    output = proc.stdout + proc.stderr
    result = recap(output)
    lines = output.splitlines()
    said = [(lines[i - 1], line) for i, line in enumerate(lines) if "wmi_privacy skipped" in line]
    skipped = ("t0001.lab1.example.test", "t0002.lab1.example.test")
    line = "    msg: 'wmi_privacy skipped: connection is ssh, not winrm or psrp'"
    assert sorted(said) == [(f"ok: [{host}] => ", line) for host in skipped], output
    for host in skipped:
        # unreachable=0 although 192.0.2.10 answers nothing: no connection was attempted
        assert result[host] == {"ok": 2, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 1}, output
    assert result["win1"]["unreachable"] == 1 and result["win2"]["unreachable"] == 1  # the role went there


@pytest.mark.parametrize(("kind", "name"), [
    ("role", "scanready.windows.wmi_privacy"),
    ("filter", "scanready.windows.wmi_plan"),
    ("filter", "scanready.windows.wmi_running_dependants"),
])
def test_role_and_filters_document_themselves(kind: str, name: str) -> None:
    proc = subprocess.run([str(BIN / "ansible-doc"), "-t", kind, name], capture_output=True, text=True, check=False,
                          env=ansible_env(), cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert name in proc.stdout and ("EXAMPLES" in proc.stdout or kind == "role")


def run_preflight(**settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCANREADY_WIN_")} | settings
    return subprocess.run([str(REPO / "molecule" / "windows" / "preflight")], capture_output=True, text=True,
                          check=False, env=env, timeout=30)


def test_molecule_windows_preflight_skips_with_one_line_when_no_host_is_named() -> None:
    proc = run_preflight()
    assert proc.returncode == 77
    assert proc.stderr == ""
    assert proc.stdout.splitlines() == [
        "molecule/windows: skipped — SCANREADY_WIN_HOST is not set (name a Windows Server 2019/2022/2025 host "
        "reachable over WinRM, see docs/windows-host-testing.md)"]


@pytest.mark.parametrize(("settings", "complaint"), [
    ({}, "SCANREADY_WIN_USER is not set; SCANREADY_WIN_PASSWORD is not set"),
    ({"SCANREADY_WIN_USER": "u", "SCANREADY_WIN_PASSWORD": "p", "SCANREADY_WIN_TRANSPORT": "digest"},
     "SCANREADY_WIN_TRANSPORT must be ntlm, kerberos, credssp or basic, not 'digest'"),
    ({"SCANREADY_WIN_USER": "u", "SCANREADY_WIN_PASSWORD": "p", "SCANREADY_WIN_CERT_VALIDATION": "no"},
     "SCANREADY_WIN_CERT_VALIDATION must be validate or ignore, not 'no'"),
])
def test_molecule_windows_preflight_fails_on_incomplete_settings(settings: dict[str, str], complaint: str) -> None:
    proc = run_preflight(SCANREADY_WIN_HOST="win.example.test", **settings)
    assert proc.returncode == 2
    assert complaint in proc.stdout
    assert "p" not in proc.stdout.split("but:", 1)[1].replace("SCANREADY_WIN_PASSWORD", "").split()  # no secret


def test_molecule_windows_does_not_pass_when_no_host_is_named() -> None:
    env = {k: v for k, v in ansible_env(NO_COLOR="1").items() if not k.startswith("SCANREADY_WIN_")}
    proc = subprocess.run([str(BIN / "molecule"), "test", "-s", "windows"], capture_output=True, text=True, check=False,
                          env=env, cwd=REPO, timeout=300)
    output = said(re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)).replace("│ ", "")
    assert proc.returncode != 0
    assert "molecule/windows: skipped — SCANREADY_WIN_HOST is not set (name a Windows Server" in output
    assert "create: Executed: Failed" in output
    assert "converge: Executing" not in output and "check: Executing" not in output


# --- against a simulated Windows host ---------------------------------------------------------------

@pytest.fixture(scope="module")
def fake_windows_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tree(tmp_path_factory.mktemp("fake_windows"))


@pytest.fixture
def fake(fake_windows_tree: Path, tmp_path: Path) -> Iterator[FakeWindows]:
    state_file = tmp_path / "windows.json"
    inventory = write_inventory(tmp_path / "hosts.yml", {"win1": {
        "ansible_connection": "winrm", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}})
    playbook = tmp_path / "site.yml"
    playbook.write_text(PLAYBOOK)
    env = {
        "FAKE_WINDOWS_STATE": str(state_file),
        "ANSIBLE_COLLECTIONS_PATH": f"{fake_windows_tree / 'collections'}:{REPO / '.cache' / 'collections'}",
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",  # the simulated ansible.windows, not the installed one
        "ANSIBLE_CONNECTION_PLUGINS": str(fake_windows_tree / "connection_plugins"),
        "ANSIBLE_PIPELINING": "1",
    }
    yield FakeWindows(state_file, inventory, playbook, env)


def test_check_mode_says_what_it_would_do_and_changes_nothing(fake: FakeWindows) -> None:
    fake.set(SHARED)
    before = fake.state
    result, output = fake.run("--check", "-e", "scanready_gpupdate=true")
    # the WMI change, the record it would write and the policy refresh
    assert result["failed"] == 0 and result["changed"] == 3, output
    assert ("wmi_privacy: configured shared, running shared; WMI is configured to run in the svchost group 'netsvcs'; "
            "it needs `winmgmt /standalonehost 6` and a restart of Winmgmt; check mode, nothing run: would run "
            "`winmgmt /standalonehost 6`, restart Winmgmt and start again iphlpsvc, NcaSvc") in said(output)
    assert "would run `gpupdate /target:computer /force /wait:300`" in output
    assert fake.state == before, "check mode changed the host"


def test_molecule_windows_scenario_passes_against_the_simulated_host(fake: FakeWindows) -> None:
    """molecule/windows itself, every step, with the simulated host named as SCANREADY_WIN_HOST."""
    fake.set(SHARED)
    env = {k: v for k, v in ansible_env(NO_COLOR="1", **fake.env).items() if not k.startswith("SCANREADY_WIN_")}
    env.update(SCANREADY_WIN_HOST="simulated.example.test", SCANREADY_WIN_USER="someone",
               SCANREADY_WIN_PASSWORD="not-a-secret", ANSIBLE_PYTHON_INTERPRETER=str(BIN / "python"))
    proc = subprocess.run([str(BIN / "molecule"), "test", "-s", "windows"], capture_output=True, text=True, check=False,
                          env=env, cwd=REPO, timeout=900)
    output = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, output
    assert "not-a-secret" not in output
    skipped = "scanner-side WMI check skipped ({}) - SCANREADY_WIN_DOMAIN is not set"
    for when in ("WMI in the shared svchost", "WMI in its own svchost at level 6"):
        assert skipped.format(when) in said(output)
    for step in ("create", "cleanup", "check", "converge", "idempotence", "side_effect", "verify"):
        assert f"{step}: Executed: Successful" in output, step
    assert fake.state["log"] == [
        # cleanup: already in the shared host, nothing; check: nothing; converge:
        RECORDED,
        "winmgmt /standalonehost 6",
        *RESTART,  # net stop winmgmt /y; dependencies before dependants; SharedAccess was stopped and stays so
        # idempotence: nothing; side_effect: the policy refresh,
        "gpupdate /target:computer /force /wait:300",
        # the rollback of the host the role moved,
        "winmgmt /sharedhost", *RESTART, FORGOTTEN,
        # a run whose restart failed (the record and the command, no restart), finished by the role's restart,
        RECORDED, "winmgmt /standalonehost 6", *RESTART,
        # a host the role did not move (no record), left alone by the rollback; the record put back,
        FORGOTTEN, RECORDED,
        # verify: reads only; cleanup (the rollback):
        "winmgmt /sharedhost", *RESTART, FORGOTTEN,
    ]
    assert fake.state["services"]["SharedAccess"]["state"] == "stopped"


def test_a_restart_that_does_not_bring_the_wanted_state_fails_clearly(fake: FakeWindows) -> None:
    # As if winmgmt kept level 4: the check after the restart says so, rather than a later run looping.
    fake.set(OWN, level=4, faults={"level_ignored": True})
    result, output = fake.run()
    assert result["failed"] == 1, output
    assert ("wmi_privacy: after `winmgmt` and the restart, Winmgmt is started and WMI is configured to run in its own "
            "svchost at authentication level 4, not 6") in said(output)


def test_a_stop_that_hangs_is_bounded(fake: FakeWindows) -> None:
    fake.set(SHARED, faults={"stop_seconds": 20})
    started = time.monotonic()
    result, output = fake.run("-e", "scanready_wmi_service_timeout=3")
    assert time.monotonic() - started < 90  # a slow machine's ansible overhead, far below an unbounded wait
    assert result["failed"] == 1, output
    assert "Timed out after 3 second(s)" in output
    assert fake.state["services"]["Winmgmt"]["path"] == OWN  # done, but not in effect until Winmgmt restarts


def test_configured_standalone_running_shared_is_restarted_not_reconfigured(fake: FakeWindows) -> None:
    # What a run whose restart failed leaves: the command's configuration, the record, WMI still shared.
    fake.set(OWN, level=6, running=SHARED, record="shared")
    before = fake.state
    result, output = fake.run("--check")
    assert result["failed"] == 0 and result["changed"] == 1, output
    assert ("wmi_privacy: configured standalone, running shared; WMI is configured to run in its own svchost at "
            "authentication level 6; runs shared (process 1000, svchost group 'netsvcs'); the configuration has not "
            "taken effect (a restart failed or never happened): restart Winmgmt; check mode, nothing run: would "
            "restart Winmgmt and start again iphlpsvc, NcaSvc") in said(output)
    assert fake.state == before, "check mode changed the host"

    result, output = fake.run()
    assert result["failed"] == 0, output
    assert fake.state["log"] == ["stop Winmgmt iphlpsvc NcaSvc", "start Winmgmt", "start iphlpsvc", "start NcaSvc"]
    assert "-k winmgmt" in fake.winmgmt_runs
    assert "wmi_privacy: restarted; configured standalone, running standalone (process 5000)" in said(output)


def test_a_failed_restart_is_retried_by_the_next_run(fake: FakeWindows) -> None:
    fake.set(SHARED, faults={"stop_fails": True})
    result, output = fake.run()
    assert result["failed"] == 1, output
    assert "Failed to stop service Winmgmt: the dependant NcaSvc did not stop" in output
    # The record came first, then the command; WMI still runs in the shared svchost.
    assert fake.state["log"] == [r"regedit HKLM:\SOFTWARE\scanready\windows WmiPriorHostMode=shared",
                                 "winmgmt /standalonehost 6"]
    assert "-k netsvcs" in fake.winmgmt_runs

    fake.change()  # the dependant stops now
    result, output = fake.run()
    assert result["failed"] == 0, output
    assert fake.state["log"][2:] == ["stop Winmgmt iphlpsvc NcaSvc", "start Winmgmt", "start iphlpsvc", "start NcaSvc"]
    assert "-k winmgmt" in fake.winmgmt_runs and fake.record == "shared"
    result, output = fake.run()
    assert result["changed"] == 0, output


@pytest.mark.parametrize("record", [None, "standalone"])
def test_rollback_leaves_a_host_it_did_not_move_alone(fake: FakeWindows, record: str | None) -> None:
    fake.set(OWN, level=6, record=record)
    playbook = fake.playbook.parent / "rollback.yml"
    playbook.write_text(PLAYBOOK.replace("role: scanready.windows.wmi_privacy",
                                         "role: scanready.windows.wmi_privacy\n      scanready_wmi_revert: true"))
    rollback = FakeWindows(fake.state_file, fake.inventory, playbook, fake.env)
    result, output = rollback.run()
    assert result["failed"] == 0 and result["changed"] == (record is not None), output  # a record is forgotten
    assert "WMI left alone by the rollback" in said(output)
    assert "wmi_privacy rollback: WMI left alone on win1" in said(output)
    assert [line for line in fake.state["log"] if not line.startswith("regedit")] == []
    assert "-k winmgmt" in fake.winmgmt_runs and fake.record is None


def test_rollback_reverts_a_host_it_moved_and_forgets_the_record(fake: FakeWindows) -> None:
    fake.set(OWN, level=6, record="shared")
    playbook = fake.playbook.parent / "rollback.yml"
    playbook.write_text(PLAYBOOK.replace("role: scanready.windows.wmi_privacy",
                                         "role: scanready.windows.wmi_privacy\n      scanready_wmi_revert: true"))
    rollback = FakeWindows(fake.state_file, fake.inventory, playbook, fake.env)
    before = fake.state
    result, output = rollback.run("--check")
    assert result["failed"] == 0 and result["changed"] == 2, output  # the rollback and the record it would forget
    assert fake.state == before, "check mode changed the host"
    result, output = rollback.run()
    assert result["failed"] == 0, output
    assert fake.state["log"] == ["winmgmt /sharedhost", "stop Winmgmt iphlpsvc NcaSvc", "start Winmgmt",
                                 "start iphlpsvc", "start NcaSvc",
                                 r"regedit HKLM:\SOFTWARE\scanready\windows WmiPriorHostMode=(deleted)"]
    assert "-k netsvcs" in fake.winmgmt_runs and fake.record is None
    assert "wmi_privacy rollback: WMI left alone on no host" in said(output)
