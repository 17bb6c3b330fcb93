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


def test_a_timeout_or_an_unreachable_dc_is_not_recorded(kdc: type[Kinit], monkeypatch: pytest.MonkeyPatch) -> None:
    kdc.error = KerberosError("timeout", "the KDC did not answer within 10 s")
    with pytest.raises(GuardStop):
        guarded_preflight()
    kdc.error = None
    guarded_preflight()
    assert kdc.calls == 2, "nothing refused the account: the next run asks again"


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
