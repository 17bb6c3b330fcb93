# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Optional libraries and closing what may already be broken: one way each, for every module.

Each optional dependency has HAS_<LIB> and <LIB>_IMPORT_ERROR (the traceback, or None), as in
community.crypto; a module checks them first thing with require_library, which fails the way
Ansible users know (missing_required_lib) and keeps the traceback for -vvv.
ldap3 is the exception: `_ldap` is the only module that imports it, so its pair lives there.
ClosingContext gives a class with close() the `with` statement.
"""
from __future__ import annotations

import contextlib
import importlib
import traceback
from typing import Any, TypeVar

from ansible.module_utils.basic import missing_required_lib


def import_error(name: str) -> str | None:
    """The traceback of importing the library `name`, or None when it imports."""
    try:
        importlib.import_module(name)
    except ImportError:
        return traceback.format_exc()
    return None


IMPACKET_IMPORT_ERROR = import_error("impacket")
HAS_IMPACKET = IMPACKET_IMPORT_ERROR is None
CRYPTODOME_IMPORT_ERROR = import_error("Cryptodome")  # pycryptodomex: SMB3 signing checks on SYSVOL
HAS_CRYPTODOME = CRYPTODOME_IMPORT_ERROR is None
DNSPYTHON_IMPORT_ERROR = import_error("dns")
HAS_DNSPYTHON = DNSPYTHON_IMPORT_ERROR is None
JINJA2_IMPORT_ERROR = import_error("jinja2")  # the report templates; always there on a controller
HAS_JINJA2 = JINJA2_IMPORT_ERROR is None


def require_library(module: Any, library: str, error: str | None) -> None:
    """Fail the module (an AnsibleModule) when `library` did not import; `error` is its <LIB>_IMPORT_ERROR."""
    if error is not None:
        module.fail_json(msg=missing_required_lib(library), exception=error)


def close_quietly(resource: Any, method: str = "close") -> None:
    """Call resource.<method>() (close, unbind, close_session ...) ignoring any failure; None is skipped.

    Closing a connection that already broke is not worth an error over the real one, which the
    caller is usually in the middle of reporting.
    """
    if resource is None:
        return
    with contextlib.suppress(Exception):
        getattr(resource, method)()


ClosingT = TypeVar("ClosingT", bound="ClosingContext")


class ClosingContext:
    """`with obj:` closes obj on the way out, whatever happened inside; subclasses define close()."""

    def __enter__(self: ClosingT) -> ClosingT:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        raise NotImplementedError
