#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: registry_access
version_added: 0.1.0
short_description: Check that the scanner account can read a target's registry remotely
description:
  - The source article's C(reg query \\host\HKLM\Software) for one target, from the controller, as the
    scanner account.
  - Logs on with the highest authentication scheme that works (Kerberos AES, Kerberos RC4, NTLMv2,
    NTLMv1 only when allowed), opens the winreg pipe, and opens each key in O(keys) for reading
    (C(KEY_READ), checked by the host at open).
  - Fails when the logon or any key does not work, with the failure's class and its fix; the
    result has every check either way.
  - The winreg pipe is there while the Remote Registry service runs. On Windows 8 / Server 2012 and
    later, opening it trigger-starts a stopped service that is not disabled (as every remote registry
    client, the scanner included, does), so a stopped service set to Manual is reported as readable.
  - Read-only; never reports C(changed) and runs the same in check mode. For a whole fleet at once
    use M(scanready.windows.scan_readiness), which is much faster than one task per host.
author:
  - scanready maintainers (@scanready)
extends_documentation_fragment:
  - scanready.windows.attributes
  - scanready.windows.attributes.verify
  - scanready.windows.scanner_credentials
  - scanready.windows.single_target
options:
  keys:
    description:
      - Registry keys to open, under C(HKLM\) or C(HKU\) (C(HKEY_LOCAL_MACHINE\), C(HKEY_USERS\)).
    type: list
    elements: str
    default: ['HKLM\Software']
seealso:
  - module: scanready.windows.share_access
  - module: scanready.windows.scan_readiness
"""

EXAMPLES = r"""
- name: The scanner account can read HKLM\Software on every target
  scanready.windows.registry_access:
    target: "{{ ansible_host | default(inventory_hostname) }}"
    name: "{{ inventory_hostname }}"
    domain: corp.example.com
    username: qualys_scanner
    password: "{{ vault_scanner_password }}"
  delegate_to: localhost

- name: Two keys the scanner's checks read
  scanready.windows.registry_access:
    target: 10.0.1.21
    keys:
      - HKLM\Software\Microsoft\Windows NT\CurrentVersion
      - HKLM\SYSTEM\CurrentControlSet\Services
    domain: corp.example.com
    username: qualys_scanner
    password: "{{ vault_scanner_password }}"
  delegate_to: localhost
"""

RETURN = r"""
name:
  description: The host's name as given (O(name), else O(target)).
  returned: success, and on failure when a target was tried
  type: str
  sample: web01.corp.example.com
address:
  description: The address connected to.
  returned: success, and on failure when a target was tried
  type: str
  sample: 10.0.1.21
readable:
  description: Whether the logon and every key worked.
  returned: always
  type: bool
  sample: true
auth_scheme:
  description: The authentication scheme of the session, or null without one.
  returned: success, and on failure when a target was tried
  type: str
  sample: kerberos-aes
duration_s:
  description: Seconds the check took.
  returned: success, and on failure when a target was tried
  type: float
  sample: 0.21
checks:
  description:
    - C(logon) and one C(registry:<key>) entry per key, each with C(ok), C(class), C(required),
      C(detail) and C(fix), as in M(scanready.windows.scan_readiness).
  returned: success, and on failure when a target was tried
  type: dict
  sample:
    logon: {ok: true, class: ok, required: true, detail: "logged on with Kerberos AES", fix: null}
    "registry:HKLM\\Software": {ok: false, class: registry_unavailable, required: true,
                                detail: "the winreg pipe did not open (STATUS_OBJECT_NAME_NOT_FOUND) ...",
                                fix: "Start the Remote Registry service and set it to Automatic ..."}
failure_class:
  description:
    - Why the run stopped before any target was tried, when the domain controller refused the account
      or could not be asked, or a refusal recorded earlier for the account is still in force (the
      lockout guard, see the notes); C(msg) says what happened and what to do.
    - One of C(logon_failure), C(account_locked), C(account_disabled), C(account_expired),
      C(password_expired), C(unreachable), C(timeout) or C(error).
  returned: failure, when the run stopped before any target
  type: str
  sample: logon_failure
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scanready.windows.plugins.module_utils._compat import IMPACKET_IMPORT_ERROR, require_library
from ansible_collections.scanready.windows.plugins.module_utils._verify.run import run_single
from ansible_collections.scanready.windows.plugins.module_utils._verify.specs import (
    SCANNER_CREDENTIALS_SPEC,
    SINGLE_TARGET_SPEC,
    checked_names,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.target import DEFAULT_KEYS, CheckSet


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **SCANNER_CREDENTIALS_SPEC,
            **SINGLE_TARGET_SPEC,
            "keys": {"type": "list", "elements": "str", "default": list(DEFAULT_KEYS), "no_log": False},
        },
        supports_check_mode=True,
    )
    require_library(module, "impacket", IMPACKET_IMPORT_ERROR)
    try:
        checks = CheckSet(shares=(), registry_keys=checked_names("registry_keys", module.params["keys"]),
                          services=(), wmi_namespaces=())
        if not checks.registry_keys:
            raise ValueError("keys is empty: name at least one registry key to open")
    except ValueError as exc:
        module.fail_json(msg=f"registry_access: {exc}", readable=False)
    run_single(module, checks, "readable")


if __name__ == "__main__":
    main()
