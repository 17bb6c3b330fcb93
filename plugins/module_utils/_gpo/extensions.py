# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gPCMachineExtensionNames: the client-side extensions (and their tools) a GPO's machine half uses (MS-GPOL 2.2.4).
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError

REGISTRY_CSE: Final = ("{35378EAC-683F-11D2-A89A-00C04FBBCFA2}", "{D02B1F72-3407-48AE-BA88-E8213C6761F1}")
SECURITY_CSE: Final = ("{827D319E-6EAC-11D2-A4EA-00C04F79F83A}", "{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}")
_GUID = r"\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}"


def parse_extension_names(value: str) -> dict[str, list[str]]:
    """'[{CSE}{tool}...][...]' -> {CSE: [tools]} (GUIDs upper case)."""
    result: dict[str, list[str]] = {}
    rest = value.strip()
    while rest:
        match = re.match(rf"\[((?:{_GUID})+)\]", rest)
        if not match:
            raise GpoFormatError(f"malformed gPCMachineExtensionNames near {rest[:80]!r}")
        guids = [guid.upper() for guid in re.findall(_GUID, match.group(1))]
        tools = result.setdefault(guids[0], [])
        tools.extend(tool for tool in guids[1:] if tool not in tools)
        rest = rest[match.end():].lstrip()
    return result


def render_extension_names(extensions: Mapping[str, Sequence[str]]) -> str:
    """Sorted by CSE GUID, tools sorted, upper case: the order Windows requires (MS-GPOL 2.2.4)."""
    return "".join("[" + cse + "".join(sorted(tools)) + "]" for cse, tools in sorted(extensions.items()))


def with_extension(extensions: Mapping[str, Sequence[str]], cse: tuple[str, str],
                   present: bool) -> dict[str, list[str]]:
    """A copy with the (CSE, tool) pair listed when present, and the CSE dropped when not."""
    result = {name: list(tools) for name, tools in extensions.items()}
    name, tool = cse
    if present:
        tools = result.setdefault(name, [])
        if tool not in tools:
            tools.append(tool)
    else:
        result.pop(name, None)
    return result
