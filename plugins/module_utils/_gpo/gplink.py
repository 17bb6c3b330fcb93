# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""gPLink values: which GPOs a domain, OU or site links, in which order, with which options (MS-GPOL 2.2.2).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError
from ansible_collections.scanready.windows.plugins.module_utils._ldap.names import normalize_dn

GPLINK_DISABLED: Final = 1
GPLINK_ENFORCED: Final = 2


@dataclass(frozen=True)
class GpLink:
    dn: str
    options: int

    def points_to(self, gpo_dn: str) -> bool:
        return normalize_dn(self.dn) == normalize_dn(gpo_dn)


def parse_gplink(value: str) -> list[GpLink]:
    """'[LDAP://cn={GUID},cn=policies,...;0][LDAP://...;2]' -> links in stored order."""
    links: list[GpLink] = []
    rest = value.strip()
    while rest:
        match = re.match(r"\[LDAP://([^;\]]+);\s*(\d+)\s*\]", rest, re.IGNORECASE)
        if not match:
            raise GpoFormatError(f"malformed gPLink near {rest[:80]!r}")
        links.append(GpLink(match.group(1), int(match.group(2))))
        rest = rest[match.end():].lstrip()
    return links


def render_gplink(links: Iterable[GpLink]) -> str:
    return "".join(f"[LDAP://{link.dn};{link.options}]" for link in links)


def with_link(links: Sequence[GpLink], gpo_dn: str, options: int) -> list[GpLink]:
    """Links with gpo_dn's options set; a new link goes first, as samba-tool gpo setlink places it."""
    if any(link.points_to(gpo_dn) for link in links):
        return [GpLink(link.dn, options) if link.points_to(gpo_dn) else link for link in links]
    return [GpLink(gpo_dn, options), *links]


def without_link(links: Sequence[GpLink], gpo_dn: str) -> list[GpLink]:
    return [link for link in links if not link.points_to(gpo_dn)]
