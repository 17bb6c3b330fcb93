from __future__ import annotations

from pathlib import Path

import pytest

from tests.lab_support import LabInfo, load_lab


@pytest.fixture(scope="session")
def lab() -> LabInfo:
    """The default lab instance, brought up if it is not running."""
    return load_lab()


@pytest.fixture(autouse=True)
def private_lockout_records(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test its own lockout guard records (the modules inherit XDG_RUNTIME_DIR through ansible): a wrong
    password in one test must not stop the account in the next."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return tmp_path / "scanready-lockout"
