"""Where the lab keeps its state, and the ports, modes and names every part of it shares."""
from __future__ import annotations

import os
import re
from pathlib import Path

# lab/, where the lab/lab entry point and the default instance's inventory are.
LAB_DIR = Path(__file__).resolve().parents[1]
# The entry point the delay proxy is started through (lab/lab _delay-proxy).
LAB_SCRIPT = LAB_DIR / "lab"
STATE_ROOT = Path(os.environ.get("SCANREADY_LAB_STATE", "/var/tmp/scanready-lab"))
HOSTS_FILE = Path("/etc/hosts")
DEFAULT_INSTANCE = "default"
NOT_READY = ["firewall_blocked", "port_closed", "share_denied", "registry_off", "slow"]
PROXY_PORT = 14450
# The targets are one domain member server; the DC's own smbd moves to this port, and nft sends the
# DC's address on 445 to it, so that the member's smbd can listen on 445 for every target address.
DC_SMB_PORT = 1445
# The DC's own ports: its smbd is asked on DC_SMB_PORT, since 445 may reach the delay proxy, which
# accepts before the DC's smbd listens. 135: the endpoint mapper. 636 only where the DC offers LDAPS.
READY_PORTS = (636, 88, 135, DC_SMB_PORT)
TLS_MODES = ("samba", "strict", "none")
# --ntlm: the `ntlm auth` of the DC and the member server.
NTLM_AUTH = {"enabled": "ntlmv2-only", "disabled": "disabled"}
MEMBER_NETBIOS = "TARGETS"
# A group's sAMAccountName, as smb.conf can quote it in `valid users`.
GROUP_NAME = re.compile(r'[^\\/"@\[\]:;|=,+*?<>\x00-\x1f]{1,64}')
