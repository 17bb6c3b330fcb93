# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception base of the collection: every error it raises on purpose derives from it.

A module fails with `.message`, a single line phrased for the administrator that never contains a
secret: `with fail_on_error(module): ...` around what may raise.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class ScanreadyError(Exception):
    """An error the collection explains itself; `message` is what the module reports."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@contextlib.contextmanager
def fail_on_error(module: Any) -> Iterator[None]:
    """Inside, a ScanreadyError fails the module (an AnsibleModule) with its message."""
    try:
        yield
    except ScanreadyError as exc:
        module.fail_json(msg=exc.message)
