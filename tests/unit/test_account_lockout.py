"""scan_account's check of the current password (update_password: always) goes through the verify modules'
lockout guard: no bind in check mode, none while a refusal is recorded, and a refused or unanswered bind is
recorded, so that a wrong password costs at most one bad logon per run whichever module meets it."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _ldap
from ansible_collections.scanready.windows.plugins.module_utils._ldap import BindCheck, DomainError
from ansible_collections.scanready.windows.plugins.module_utils._lockout import LockoutRecord, Refusal, private_dir

from tests.unit.test_account import NEW_DN, PASSWORD, FakeDirectory, run

OTHER = "Scanner-Pass-2"


def records(private_lockout_records: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(private_lockout_records.glob("*.json"))]


def existing() -> FakeDirectory:
    directory = FakeDirectory()
    run(directory)
    return directory


def test_check_mode_never_binds(private_lockout_records: Path) -> None:
    directory = existing()
    for password in (PASSWORD, OTHER):
        outcome = run(directory, check_mode=True, update_password="always", password=password)
        assert outcome.changed, "only a logon could tell: reported as to be set"
        assert any(w.startswith("check mode: the current password of") and "not checked" in w
                   for w in outcome.warnings)
    assert directory.binds == 0
    assert directory.passwords[NEW_DN] == PASSWORD
    assert records(private_lockout_records) == []


def test_a_refused_check_is_recorded_for_the_verify_modules(private_lockout_records: Path) -> None:
    directory = existing()
    outcome = run(directory, update_password="always", password=OTHER)
    assert outcome.changed and outcome.password_known and directory.binds == 1
    assert directory.passwords[NEW_DN] == OTHER
    [record] = records(private_lockout_records)
    assert record["cls"] == "logon_failure" and record["account"] == "qualys_scanner@CORP.EXAMPLE.COM"
    assert OTHER not in json.dumps(record) and PASSWORD not in json.dumps(record)
    # The record key is the verify modules' (they read it for the same account and domain).
    assert LockoutRecord(private_dir(private_lockout_records), "qualys_scanner", "CORP.EXAMPLE.COM").read()


def test_a_recorded_refusal_means_no_bind_and_the_password_set_again(private_lockout_records: Path) -> None:
    directory = existing()
    record = LockoutRecord(private_dir(private_lockout_records), "qualys_scanner", "corp.example.com")
    record.write(Refusal(record.account, "the domain controller dc1", "logon_failure", "refused the password",
                         time.time()))
    outcome = run(directory, update_password="always")
    assert directory.binds == 0, "no further logon that could count"
    assert outcome.changed and outcome.password_known, "set again (the module then clears the record)"
    assert any("is not checked: the domain controller dc1 refused qualys_scanner@CORP.EXAMPLE.COM" in w
               and str(record.path) in w for w in outcome.warnings)
    assert directory.passwords[NEW_DN] == PASSWORD


def test_a_check_without_a_verdict_is_recorded_and_the_password_set(private_lockout_records: Path) -> None:
    class Silent(FakeDirectory):
        def try_bind(self, user: str, password: str, *, account: str) -> BindCheck:
            self.binds += 1
            raise DomainError("DC dc1 stopped answering during bind CN=qualys_scanner: no answer within 10 s",
                              _ldap.UNREACHABLE)

    directory = Silent()
    run(directory)
    outcome = run(directory, update_password="always", password=OTHER)
    assert directory.binds == 1 and outcome.changed and directory.passwords[NEW_DN] == OTHER
    assert any("may have counted" in w for w in outcome.warnings)
    [record] = records(private_lockout_records)
    assert record["unknown"] is True and "no answer within 10 s" in str(record["reason"])


def test_a_right_password_or_one_the_dc_found_right_is_not_recorded(private_lockout_records: Path) -> None:
    directory = existing()
    assert not run(directory, update_password="always").changed
    run(directory, state="disabled")
    assert not run(directory, state="disabled", update_password="always").changed  # 533: checked, right
    assert directory.binds == 2
    assert records(private_lockout_records) == []


def test_an_unusable_record_directory_fails_before_the_check(private_lockout_records: Path) -> None:
    directory = existing()
    private_lockout_records.write_text("a file")
    with pytest.raises(DomainError) as err:
        run(directory, update_password="always", password=OTHER)
    assert err.value.cause == _ldap.CONFIG
    assert str(private_lockout_records) in err.value.message and "was not checked" in err.value.message
    assert directory.binds == 0 and directory.passwords[NEW_DN] == PASSWORD
