"""bench/verify_fleet's bare baseline: the checks of the per-host tasks as a plain impacket loop, for client CPU.

    python bench/bare_impacket_loop.py USER PASSWORD DOMAIN < addresses.json

For each address on stdin (a JSON list): an NTLM logon, C$ listed, ADMIN$ and IPC$ connected, HKLM\\Software
opened over winreg. Prints one JSON line: {"cpu_s": ..., "wall_s": ..., "ok": <addresses that passed every check>}.
"""
from __future__ import annotations

import json
import sys
import time

from impacket.dcerpc.v5 import rrp, transport
from impacket.smbconnection import SMBConnection


def check(address: str, user: str, password: str, domain: str) -> bool:
    """Whether every check passed on `address` (any failure, of any kind, counts as not ok)."""
    try:
        conn = SMBConnection(address, address, timeout=5)
        conn.login(user, password, domain)
        conn.listPath("C$", "*")
        for share in ("ADMIN$", "IPC$"):
            conn.disconnectTree(conn.connectTree(share))
        rpc = transport.SMBTransport(address, filename=r"\winreg", smb_connection=conn)
        dce = rpc.get_dce_rpc()
        dce.connect()
        dce.bind(rrp.MSRPC_UUID_RRP)
        hklm = rrp.hOpenLocalMachine(dce)["phKey"]
        rrp.hBaseRegCloseKey(dce, rrp.hBaseRegOpenKey(dce, hklm, "Software\x00", samDesired=rrp.KEY_READ)["phkResult"])
        dce.disconnect()
        conn.logoff()
    except Exception:
        return False
    return True


def main() -> None:
    user, password, domain = sys.argv[1], sys.argv[2], sys.argv[3]
    addresses = json.loads(sys.stdin.read())
    ok = 0
    started_cpu, started = time.process_time(), time.monotonic()
    for address in addresses:
        ok += check(address, user, password, domain)
    print(json.dumps({"cpu_s": time.process_time() - started_cpu, "wall_s": time.monotonic() - started, "ok": ok}))


if __name__ == "__main__":
    main()
