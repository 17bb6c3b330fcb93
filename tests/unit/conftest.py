from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_lockout_records(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Each test its own lockout guard records (scan_account's password check and the verify guard keep them
    under XDG_RUNTIME_DIR): never the user's own, and a refusal one test records never stops the next."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    return tmp_path / "scanready-lockout"
