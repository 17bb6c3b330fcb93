from __future__ import annotations

import pytest

from tests.lab_support import LabInfo, load_lab


@pytest.fixture(scope="session")
def lab() -> LabInfo:
    """The default lab instance, brought up if it is not running."""
    return load_lab()
