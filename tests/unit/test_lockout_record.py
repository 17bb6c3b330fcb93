"""The lockout guard's record on the controller: private, keyed without secrets, short-lived, shared by
parallel module processes, and consulted by every verify run before it tries a logon."""
from __future__ import annotations

import json
import multiprocessing
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._kerberos import KerberosError
from ansible_collections.scanready.windows.plugins.module_utils._lockout import (
    RECORD_TTL_S,
    LockoutRecord,
    RecordError,
    Refusal,
    forget,
    private_dir,
    record_dir,
    record_key,
    run_id,
    usable_dir,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify import guard
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials
from ansible_collections.scanready.windows.plugins.module_utils._verify.guard import GuardStop, recorded_guard

PASSWORD = "Unit-Record-Secret-4"
CREDS = Credentials.parse("scanner", PASSWORD, "ex.test")


def refusal(at: float, cls: str = "logon_failure") -> Refusal:
    return Refusal("scanner@EX.TEST", "the domain controller dc1.ex.test", cls, "refused the password", at)


def test_the_directory_follows_the_user_runtime_dir_then_home_then_tmp(tmp_path: Path) -> None:
    assert record_dir({"XDG_RUNTIME_DIR": str(tmp_path), "HOME": "/nonexistent"}) == tmp_path / "scanready-lockout"
    assert record_dir({"HOME": str(tmp_path)}) == tmp_path / ".cache" / "scanready-lockout"
    assert record_dir({"XDG_RUNTIME_DIR": "relative", "HOME": "relative"}).name == f"scanready-lockout-{os.geteuid()}"


def test_the_directory_is_made_private_and_a_foreign_one_is_refused(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "a" / "records")
    assert stat.S_IMODE(made.stat().st_mode) == 0o700
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o777)
    open_dir.chmod(0o777)
    with pytest.raises(RecordError, match="open to other users"):
        private_dir(open_dir)
    link = tmp_path / "link"
    link.symlink_to(made)
    with pytest.raises(RecordError, match="is not a directory"):
        private_dir(link)


def test_the_key_is_a_hash_of_account_and_realm_without_the_password() -> None:
    key = record_key("Scanner", "ex.test")
    assert key == record_key("scanner", "EX.TEST"), "the same account, however it is spelled"
    assert key != record_key("scanner", "other.test") != record_key("other", "ex.test")
    assert "scanner" not in key and len(key) == 32


def test_a_refusal_is_written_0600_and_read_back_while_fresh(tmp_path: Path) -> None:
    now = [1_000_000.0]
    record = LockoutRecord(private_dir(tmp_path / "r"), "scanner", "ex.test", clock=lambda: now[0])
    assert record.read() is None
    record.write(refusal(now[0]))
    assert stat.S_IMODE(record.path.stat().st_mode) == 0o600
    assert PASSWORD not in record.path.read_text()
    assert record.read() == refusal(now[0])
    message = record.message(refusal(now[0]))
    assert "dc1.ex.test refused scanner@EX.TEST" in message and str(record.path) in message
    assert f"wait {RECORD_TTL_S // 60} more minute" in message
    now[0] += RECORD_TTL_S + 1
    assert record.read() is None, "expired"
    assert not record.path.exists(), "and removed"


def test_a_record_from_the_future_or_unreadable_is_handled(tmp_path: Path) -> None:
    record = LockoutRecord(private_dir(tmp_path / "r"), "scanner", "ex.test")
    record.write(refusal(time.time() + 3600))
    assert record.read() is None, "the clock was set back: the record expires rather than blocking for an hour"
    record.path.write_text("not json")
    found = record.read()
    assert found is not None and found.cls == "error", "a damaged record still stops the run"
    record.clear()
    assert record.read() is None


def test_forget_clears_the_accounts_record_once_its_password_is_known(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    record = LockoutRecord(private_dir(record_dir()), "scanner", "ex.test")
    record.write(refusal(time.time()))
    other = LockoutRecord(private_dir(record_dir()), "someone", "ex.test")
    other.write(refusal(time.time()))
    forget("Scanner", "EX.test")
    assert record.read() is None
    assert other.read() is not None
    forget("scanner", "ex.test")  # nothing left to clear: no error


def test_forget_only_some_classes_keeps_a_wrong_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Enabling the account ends a refusal for 'disabled', not one for a wrong password."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    record = LockoutRecord(private_dir(record_dir()), "scanner", "ex.test")
    record.write(refusal(time.time(), "logon_failure"))
    forget("scanner", "ex.test", only=("account_disabled", "account_expired"))
    assert record.read() is not None
    record.write(refusal(time.time(), "account_disabled"))
    forget("scanner", "ex.test", only=("account_disabled", "account_expired"))
    assert record.read() is None


def test_two_records_of_other_accounts_do_not_interfere(tmp_path: Path) -> None:
    directory = private_dir(tmp_path / "r")
    LockoutRecord(directory, "scanner", "ex.test").write(refusal(time.time()))
    assert LockoutRecord(directory, "scanner", "other.test").read() is None
    assert LockoutRecord(directory, "other", "ex.test").read() is None


def _hold(lock_dir: str, seconds: float, ready: Any) -> None:
    record = LockoutRecord(Path(lock_dir), "scanner", "ex.test")
    with record.exclusive():
        ready.set()
        time.sleep(seconds)


def test_the_lock_makes_parallel_processes_take_turns(tmp_path: Path) -> None:
    directory = private_dir(tmp_path / "r")
    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(directory), 1.0, ready))
    holder.start()
    try:
        assert ready.wait(10)
        record = LockoutRecord(directory, "scanner", "ex.test")
        with pytest.raises(RecordError, match="held the lockout guard's lock"), record.exclusive(wait=0.2):
            pass
        started = time.monotonic()
        with record.exclusive(wait=10):
            assert time.monotonic() - started > 0.3, "waited for the holder"
    finally:
        holder.join(10)


# ---------------------------------------------------------------- the guard with its record

class Kinit:
    """Stands for KerberosClient: counts AS-REQs and fails as the test says."""

    calls = 0
    error: KerberosError | None = None

    def __init__(self, *args: Any) -> None:
        pass

    def login(self, password: str) -> str:
        Kinit.calls += 1
        if Kinit.error is not None:
            raise Kinit.error
        return ""

    def close(self) -> None:
        pass


@pytest.fixture
def kdc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> type[Kinit]:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setattr(guard, "KerberosClient", Kinit)
    Kinit.calls = 0
    Kinit.error = KerberosError("logon_failure", "the KDC refused the password")
    return Kinit


def guarded_preflight() -> None:
    with recorded_guard(CREDS, "dc1.ex.test"):
        guard.preflight(CREDS, "dc1.ex.test", 5)


def test_a_refusal_is_recorded_and_later_runs_do_not_ask_the_dc(kdc: type[Kinit], tmp_path: Path) -> None:
    with pytest.raises(GuardStop) as first:
        guarded_preflight()
    assert "refused the password" in first.value.message
    assert "Later verify runs for the account stop before trying" in first.value.message
    for _run in range(9):
        with pytest.raises(GuardStop) as later:
            guarded_preflight()
        assert later.value.cls == "logon_failure"
        assert "Not tried: the domain controller dc1.ex.test refused scanner@EX.TEST" in later.value.message
        assert "delete " + str(tmp_path / "scanready-lockout") in later.value.message
    assert kdc.calls == 1, "one AS-REQ for ten runs"
    record = json.loads(next((tmp_path / "scanready-lockout").glob("*.json")).read_text())
    assert PASSWORD not in json.dumps(record)


@pytest.mark.parametrize(("cls", "said"), [
    ("timeout", "the KDC did not answer within 10 s: the logon may have counted"),
    ("error", "kinit failed: kinit: Something new happened; the KDC may have checked the password, so the logon "
              "may have counted"),
])
def test_an_unknown_outcome_is_recorded_as_a_refusal(kdc: type[Kinit], tmp_path: Path, cls: str, said: str) -> None:
    """The KDC was sent the password and gave no verdict: it may have counted, so no later call asks again."""
    kdc.error = KerberosError(cls, said, unknown=True)
    with pytest.raises(GuardStop) as first:
        guarded_preflight()
    assert isinstance(first.value, guard.UnknownOutcome) and first.value.cls == cls
    assert "got no verdict" in first.value.message and "NTLM is not tried" in first.value.message
    assert "Later verify runs for the account stop before trying" in first.value.message
    kdc.error = None  # the KDC would answer now: still not asked
    for _run in range(4):
        with pytest.raises(GuardStop) as later:
            guarded_preflight()
        assert later.value.message.startswith("Not tried: the domain controller dc1.ex.test gave no verdict on "
                                              "scanner@EX.TEST")
        assert "may have counted" in later.value.message and later.value.cls == cls
    assert kdc.calls == 1
    record = json.loads(next((tmp_path / "scanready-lockout").glob("*.json")).read_text())
    assert record["unknown"] is True and record["cls"] == cls and record["reason"] == said


def test_an_unreachable_kdc_is_not_recorded_and_ntlm_checks_instead(kdc: type[Kinit],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Connection refused, no KDC known, kinit not installed: the KDC never saw the password, so the one NTLM
    logon at the DC checks the account, and nothing is recorded when it accepts it."""
    ntlm: list[str] = []
    monkeypatch.setattr(guard, "_ntlm_at_dc", lambda creds, dc, timeout, why: ntlm.append(why))
    for cls in ("unreachable", "refused", "unavailable"):
        kdc.error = KerberosError(cls, "no KDC answered on port 88 (TCP or UDP) of the DC")
        with recorded_guard(CREDS, "dc1.ex.test"):
            client, unavailable, warnings = guard.preflight(CREDS, "dc1.ex.test", 5)
        assert client is None and "Kerberos is not available" in unavailable and warnings
    assert kdc.calls == 3 and len(ntlm) == 3


def test_an_ntlm_logon_without_an_answer_is_recorded(kdc: type[Kinit], monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def setTimeout(self, timeout: float) -> None:
            pass

        def login(self, user: str, password: str, domain: str) -> None:
            raise TimeoutError("timed out")

        def close_session(self) -> None:
            pass

    monkeypatch.setattr(guard, "connect", lambda endpoint, timeout: Broken())
    monkeypatch.setattr(guard, "ipv4_address", lambda name, port: "192.0.2.1")
    kdc.error = KerberosError("unreachable", "no KDC answered on port 88 (TCP or UDP) of the DC")
    with pytest.raises(guard.UnknownOutcome) as first:
        guarded_preflight()
    assert first.value.cls == "timeout" and "may have counted" in first.value.message
    with pytest.raises(GuardStop, match=r"^Not tried: the domain controller dc1\.ex\.test gave no verdict"):
        guarded_preflight()
    assert kdc.calls == 1


def test_an_unusable_directory_stops_the_guard_before_any_logon(kdc: type[Kinit], tmp_path: Path) -> None:
    (tmp_path / "scanready-lockout").write_text("a file where the directory belongs")
    with pytest.raises(GuardStop) as stop:
        guarded_preflight()
    assert stop.value.cls == "error"
    assert str(tmp_path / "scanready-lockout") in stop.value.message and "\n" not in stop.value.message
    assert "Nothing was sent to the domain controller or any target" in stop.value.message
    assert kdc.calls == 0


def test_a_refusal_that_cannot_be_written_is_still_reported(kdc: type[Kinit], monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: LockoutRecord, refusal: Refusal) -> None:
        raise RecordError(f"cannot write the lockout guard's record {self.path}: No space left on device")

    monkeypatch.setattr(LockoutRecord, "write", full)
    with pytest.raises(GuardStop) as stop:
        guarded_preflight()
    assert stop.value.cls == "logon_failure" and "refused the password" in stop.value.message
    assert "could not be recorded" in stop.value.message and "No space left" in stop.value.message


# ---------------------------------------------------------------- the run a record belongs to

def fake_proc(root: Path, processes: dict[int, tuple[int, str, list[str]]], boot: str = "b00t") -> Path:
    """A /proc with these processes: pid -> (parent, start time, argv)."""
    for pid, (parent, started, argv) in processes.items():
        (root / str(pid)).mkdir(parents=True)
        fields = ["S", str(parent)] + ["0"] * 17 + [started, "0"]
        (root / str(pid) / "stat").write_text(f"{pid} (a (strange) name) " + " ".join(fields) + "\n")
        (root / str(pid) / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (root / "sys" / "kernel" / "random").mkdir(parents=True)
    (root / "sys" / "kernel" / "random" / "boot_id").write_text(boot + "\n")
    return root


PLAYBOOK = ["/venv/bin/python3.11", "/venv/bin/ansible-playbook", "-i", "inv", "site.yml"]
MODULE = ["/venv/bin/python3.11", "/root/.ansible/tmp/x/AnsiballZ_share_access.py"]


def test_the_run_is_the_outermost_ansible_process_above_the_module(tmp_path: Path) -> None:
    """module <- sh <- the worker (a fork of the main process: the same command line) <- ansible-playbook <- bash."""
    proc = fake_proc(tmp_path, {
        500: (400, "9000", MODULE),
        400: (300, "8999", ["/bin/sh", "-c", "/venv/bin/python3.11 AnsiballZ_share_access.py && sleep 0"]),
        300: (200, "8990", PLAYBOOK),
        200: (100, "100", PLAYBOOK),
        100: (1, "50", ["-bash"]),
    })
    assert run_id(proc, 500) == "b00t:200:100"
    other_worker = fake_proc(tmp_path / "other", {401: (301, "9100", ["/bin/sh"]), 301: (200, "9050", PLAYBOOK),
                                                  200: (100, "100", PLAYBOOK), 100: (1, "50", ["-bash"])})
    assert run_id(other_worker, 401) == "b00t:200:100", "every task of the run has the one id"
    adhoc = fake_proc(tmp_path / "adhoc", {7: (6, "70", ["/usr/bin/python3", "/usr/bin/ansible", "localhost"]),
                                           6: (1, "60", ["-bash"])})
    assert run_id(adhoc, 7) == "b00t:7:70"


def test_no_run_outside_ansible_or_without_proc(tmp_path: Path) -> None:
    proc = fake_proc(tmp_path, {30: (20, "3", ["python3", "module.py"]), 20: (1, "2", ["cron"])})
    assert run_id(proc, 30) == ""
    assert run_id(tmp_path / "nothing", 30) == ""
    looped = fake_proc(tmp_path / "loop", {40: (41, "4", ["sh"]), 41: (40, "4", ["sh"])})
    assert run_id(looped, 40) == "", "a bounded walk"
    assert isinstance(run_id(), str), "this process's own (pytest: none, unless ansible started it)"


def test_a_record_of_the_same_run_holds_past_the_ttl(tmp_path: Path) -> None:
    now = [1_000_000.0]
    directory = private_dir(tmp_path / "r")
    record = LockoutRecord(directory, "scanner", "ex.test", clock=lambda: now[0], run="boot:200:100")
    record.write(record.refusal("the domain controller dc1.ex.test", "logon_failure", "refused the password"))
    now[0] += 10 * RECORD_TTL_S  # hours later, in the same long run
    found = record.read()
    assert found is not None and found.run == "boot:200:100"
    assert "This run does not try again however long it lasts" in record.message(found)
    other = LockoutRecord(directory, "scanner", "ex.test", clock=lambda: now[0], run="boot:900:800")
    assert other.read() is None, "another run: expired at the TTL"


def test_a_record_of_another_run_expires_at_the_ttl(tmp_path: Path) -> None:
    now = [1_000_000.0]
    directory = private_dir(tmp_path / "r")
    LockoutRecord(directory, "scanner", "ex.test", clock=lambda: now[0], run="boot:200:100").write(
        Refusal("scanner@EX.TEST", "the domain controller dc1.ex.test", "logon_failure", "refused the password",
                now[0], "boot:200:100"))
    now[0] += RECORD_TTL_S - 1
    for run in ("boot:900:800", ""):  # a later run, and a call outside Ansible (no run found)
        record = LockoutRecord(directory, "scanner", "ex.test", clock=lambda: now[0], run=run)
        found = record.read()
        assert found is not None, "fresh within the TTL"
        assert "Or wait 0 more minute(s)." in record.message(found)
        assert "This run does not try again" not in record.message(found)
    now[0] += 2
    later = LockoutRecord(directory, "scanner", "ex.test", clock=lambda: now[0], run="boot:900:800")
    assert later.read() is None
    assert not later.path.exists(), "and removed"


def test_a_record_without_a_run_from_an_older_release_is_read(tmp_path: Path) -> None:
    record = LockoutRecord(private_dir(tmp_path / "r"), "scanner", "ex.test", run="boot:1:1")
    record.path.write_text(json.dumps({"account": "scanner@EX.TEST", "where": "a target", "cls": "logon_failure",
                                       "reason": "refused", "at": time.time()}))
    found = record.read()
    assert found is not None and found.run == "" and found.unknown is False


# ---------------------------------------------------------------- a directory that cannot be used

def test_an_unusable_directory_is_a_record_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    blocked = tmp_path / "scanready-lockout"
    blocked.write_text("a file")
    with pytest.raises(RecordError, match=f"{blocked} is not a directory"):
        usable_dir()
    parent_file = tmp_path / "file"
    parent_file.write_text("x")
    with pytest.raises(RecordError, match=f"cannot use the lockout guard's directory {parent_file / 'records'}"):
        private_dir(parent_file / "records")
    writable = private_dir(tmp_path / "ours")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as a non-root user sees a 0500 directory
    with pytest.raises(RecordError, match=f"{writable} is not writable"):
        private_dir(writable)


def test_forget_reports_what_it_cannot_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "scanready-lockout").write_text("a file")
    with pytest.raises(RecordError, match="is not a directory"):
        forget("scanner", "ex.test")


def _parallel_run(results: Any) -> None:
    try:
        guarded_preflight()
        results.put("passed")
    except GuardStop as stop:
        results.put("asked" if "Later verify runs" in stop.message else "read the record")


def test_parallel_runs_make_one_as_req_between_them(kdc: type[Kinit], tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    runs = [ctx.Process(target=_parallel_run, args=(results,)) for _run in range(5)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(30)
    verdicts = sorted(results.get(timeout=5) for _run in runs)
    assert verdicts == ["asked"] + ["read the record"] * 4
