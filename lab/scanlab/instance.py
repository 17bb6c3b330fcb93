"""One lab instance's names and addresses, and the free slot a new instance takes."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from .settings import DEFAULT_INSTANCE, LAB_DIR, STATE_ROOT


@dataclass(frozen=True)
class Lab:
    """Names and addresses of one lab instance, all derived from its name and index."""

    instance: str
    index: int

    @property
    def state(self) -> Path:
        return STATE_ROOT / self.instance

    @property
    def netns(self) -> str:
        return f"srlab-{self.instance}"

    @property
    def host_if(self) -> str:
        return f"srl{self.index}h"

    @property
    def ns_if(self) -> str:
        return f"srl{self.index}d"

    @property
    def net(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.{200 + self.index}.0.0/16")

    @property
    def host_addr(self) -> str:
        return str(self.net.network_address + 1)

    @property
    def dc_addr(self) -> str:
        return str(self.net.network_address + 2)

    def target_addr(self, i: int) -> str:
        return str(self.net.network_address + 256 * (1 + i // 250) + 1 + i % 250)

    @property
    def realm(self) -> str:
        return "scanlab.example.test" if self.instance == DEFAULT_INSTANCE else f"lab{self.index}.example.test"

    @property
    def netbios(self) -> str:
        return self.realm.split(".")[0].upper()

    @property
    def dc_fqdn(self) -> str:
        return f"dc1.{self.realm}"

    @property
    def inventory(self) -> Path:
        return LAB_DIR / "inventory.yml" if self.instance == DEFAULT_INSTANCE else self.state / "inventory.yml"

    @property
    def smb_conf(self) -> Path:
        return self.state / "etc" / "smb.conf"

    @property
    def member(self) -> Path:
        """The member server's own Samba directories (configuration, secrets, sockets, logs)."""
        return self.state / "member"

    @property
    def base_dn(self) -> str:
        return ",".join("DC=" + p for p in self.realm.split("."))

    @property
    def hosts_marker(self) -> str:
        return f"# scanready-lab:{self.instance}"


def lab_for(instance: str) -> Lab:
    if not re.fullmatch(r"[a-z0-9]{1,8}", instance) and instance != DEFAULT_INSTANCE:
        raise SystemExit("lab: --instance must be 1-8 lowercase letters or digits")
    index_file = STATE_ROOT / instance / "index"
    if index_file.exists():
        return Lab(instance, int(index_file.read_text()))
    if instance == DEFAULT_INSTANCE:
        return Lab(instance, 0)
    used = {int(p.read_text()) for p in STATE_ROOT.glob("*/index")}
    free = next((i for i in range(1, 50) if i not in used), None)
    if free is None:
        raise SystemExit("lab: no free instance slot (50 in use)")
    return Lab(instance, free)
