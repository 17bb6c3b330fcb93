"""The Ansible inventory `up` writes for an instance."""
from __future__ import annotations

import json
from pathlib import Path

from .credentials import ADMIN_PASSWORD, SCANNER_PASSWORD, USER_NAME, USER_PASSWORD
from .instance import Lab
from .targets import ptr_target


def write_inventory(lab: Lab, classes: dict[str, str], names: dict[str, str], ca: Path | None,
                    local_admins_group: str = "", tls_mode: str = "samba", ntlm: str = "enabled") -> None:
    """The instance's inventory; without a CA (--tls none) no scanready_ldap_ca_cert at all."""
    q = json.dumps  # JSON strings are valid YAML scalars
    out = [
        "---",
        f"# Written by lab/lab up (instance {lab.instance}). Throwaway values for the lab only.",
        "all:",
        "  vars:",
        f"    scanready_domain: {q(lab.realm)}",
        f"    scanready_dc: {q(lab.dc_fqdn)}",
        *([f"    scanready_ldap_ca_cert: {q(str(ca))}"] if ca else []),
        f"    scanready_admin_username: {q('Administrator@' + lab.realm.upper())}",
        f"    scanready_admin_password: {q(ADMIN_PASSWORD)}",
        "    scanready_account_name: qualys_scanner",
        f"    scanready_account_password: {q(SCANNER_PASSWORD)}",
        f"    scanready_scanner_addresses: [{q(lab.host_addr)}]",
        "    scanready_gpo_name: Authenticated scanning (scanready)",
        f"    lab_instance: {q(lab.instance)}",
        f"    lab_netns: {q(lab.netns)}",
        f"    lab_state_dir: {q(str(lab.state))}",
        f"    lab_dc_address: {q(lab.dc_addr)}",
        f"    lab_netbios: {q(lab.netbios)}",
        f"    lab_base_dn: {q(lab.base_dn)}",
        f"    lab_ptr_in_dc_dns: {q(ptr_target(classes) if classes else '')}",
        f"    lab_plain_username: {q(USER_NAME)}",
        f"    lab_plain_password: {q(USER_PASSWORD)}",
        f"    lab_local_admins_group: {q(local_admins_group)}",
        f"    lab_tls: {q(tls_mode)}",
        f"    lab_ntlm: {q(ntlm)}",
        "  children:",
        "    domain_controllers:",
        "      hosts:",
        f"        {lab.dc_fqdn}:",
        f"          ansible_host: {lab.dc_addr}",
        "          lab_expected: ready",
        "    scan_targets:",
        "      hosts:",
        f"        {lab.dc_fqdn}:",
        f"          ansible_host: {lab.dc_addr}",
        "          lab_expected: ready",
    ]
    for addr, cls in classes.items():
        out += [f"        {names[addr]}:", f"          ansible_host: {addr}", f"          lab_expected: {cls}"]
    lab.inventory.write_text("\n".join(out) + "\n")
