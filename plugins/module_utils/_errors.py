# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception base of the collection: every error it raises on purpose derives from it.

A module catches ScanreadyError once and fails with `.message`, a single line phrased for the
administrator that never contains a secret.
"""
from __future__ import annotations


class ScanreadyError(Exception):
    """An error the collection explains itself; `message` is what the module reports."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
