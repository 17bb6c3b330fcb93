# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The GPO stack's errors: a format that does not parse, an input no run can act on, a state it will not act on."""
from __future__ import annotations

from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError


class GpoFormatError(ScanreadyError):
    """A file or attribute of a GPO that does not parse."""


class GpoInputError(ScanreadyError, ValueError):
    """An operator input that cannot be turned into a policy."""


class GpoStoreError(ScanreadyError):
    """A state of the domain the module will not act on (duplicates, unreadable files, bad links)."""
