#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scan_readiness
version_added: 0.1.0
short_description: Prove from the scanner's side that every target can be scanned with authentication
description:
  - Verifies a whole list of targets in one run, concurrently, with the scanner account, as the
    vulnerability scanner will reach them - the source article's C(net use \\host\C$) and
    C(reg query \\host\HKLM\Software), done for a fleet before the first scan.
  - "For each target: the highest authentication scheme that works (Kerberos AES, Kerberos RC4,
    NTLMv2, NTLMv1 only when allowed); the shares (C$ with its root listed, ADMIN$, IPC$); registry
    keys over the winreg pipe; start type and state of services over svcctl; and a logon to WMI
    namespaces over DCOM at Packet Integrity, as a scanner connects (a host whose WMI runs in its own
    svchost at level 6 raises it to Packet Privacy; a namespace that requires encryption refuses it
    otherwise), tried again at Packet Privacy where it is refused, to tell the two causes apart."
  - Every failure is classified and names its fix. A target is ready when the logon, the shares and
    the registry keys all work; a service or WMI failure makes it not ready only when it is
    definitive (a service disabled; WMI access denied at both levels, C(wmi_access_denied); a namespace
    that refuses a scanner's Packet Integrity logon and opens at Packet Privacy, or answers
    WBEM_E_ENCRYPTED_CONNECTION_REQUIRED (0x80041087), C(wmi_privacy_not_enforced), whose fix is
    C(winmgmt /standalonehost 6) and a restart of WMI - the P(scanready.windows.wmi_privacy#role) role).
    WMI that cannot be tested (a host without DCOM, such as Samba) is reported as C(wmi_unavailable)
    with C(ok=null).
  - Read-only. Nothing on a target is written or changed (on Windows 8 and later, opening the winreg
    pipe trigger-starts a stopped Remote Registry service, as any registry client does); the module
    never reports C(changed) and runs the same in check mode.
  - Advisory C(smb_signing) check per target - whether the host requires SMB signing - never decides
    readiness; its fix names the GPO setting.
  - The DC is asked for the account once before any target is contacted; a refused password or a
    locked, disabled or expired account fails the module there, with a message that names the cause
    and its fix (for an expired account, the scan window ended and the C(scanready.windows.scan_window)
    playbook opens another one; for a disabled one, enable it). The failed result still holds every
    target, not ready, with that answer as its C(logon) failure, so that reports written from it say
    why (the P(scanready.windows.verify#role) role writes them, then fails). When a target refuses the account,
    every further logon attempt of the run is stopped and the targets not tried are reported as
    C(not_tested), with a warning.
author:
  - scanready maintainers (@scanready)
extends_documentation_fragment:
  - scanready.windows.attributes
  - scanready.windows.attributes.verify
  - scanready.windows.scanner_credentials
options:
  targets:
    description:
      - The targets, each with the name it has in the inventory and its address.
      - An entry repeated with the same name and address is verified once (with a warning); one name
        with two addresses fails the module. An IPv6 address, a network (CIDR) or a name that cannot
        be resolved is reported on its own target as not logged on, with the reason; targets are
        reached over IPv4.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - The target's name in the results. When it is a fully qualified DNS name it is also the
            name for Kerberos (C(cifs/<name>)); otherwise the domain controller's DNS is asked for a
            PTR record of the address, then (unless that DNS holds the address's reverse zone and has
            no record in it) the controller's reverse DNS.
        type: str
        required: true
      address:
        description:
          - IP address (or resolvable name) to connect to. Defaults to O(targets[].name), resolved.
        type: str
      domain_controller:
        description:
          - The target is a domain controller. With O(privilege=local_admins), an admin share, registry
            key or service the account is denied there is reported as C(dc_needs_domain_admin), because
            the scanner group is kept out of the domain controllers' C(BUILTIN\Administrators), the domain's own
            group (M(scanready.windows.scan_gpo) denies them its local Administrators GPO).
          - The filter P(scanready.windows.scan_targets#filter) sets it from a list of domain controllers.
        type: bool
        default: false
        version_added: 0.2.0
  privilege:
    description:
      - How the account is made an administrator of the targets, as
        M(scanready.windows.scan_account)'s O(scanready.windows.scan_account#module:privilege) made it.
      - Only changes how failures are named; what is checked stays the same. With V(local_admins), an
        access denied on a target marked O(targets[].domain_controller) names its cause and fix (a
        Domain Admins account for the domain controllers) instead of the generic one.
    type: str
    choices: [domain_admins, local_admins, none]
    default: domain_admins
    version_added: 0.2.0
  shares:
    description:
      - Shares to open. Drive shares (C(C$), C(D$), ...) also get their root listed.
    type: list
    elements: str
    default: ['C$', 'ADMIN$', 'IPC$']
  registry_keys:
    description:
      - Registry keys to open read-only over the winreg pipe, under C(HKLM\) or C(HKU\).
    type: list
    elements: str
    default: ['HKLM\Software']
  services:
    description:
      - Services whose start type and state are read over svcctl. Automatic and running is ok;
        Disabled makes the target not ready; Manual or stopped are reported with their fix.
    type: list
    elements: str
    default: [RemoteRegistry, LanmanServer, MpsSvc]
  wmi_namespaces:
    description:
      - WMI namespaces to log on to at Packet Integrity, as a scanner's WMI checks connect (and, where
        that is refused, at Packet Privacy). The defaults are the two namespaces that require encryption.
      - An empty list skips WMI.
    type: list
    elements: str
    default: ['root\cimv2\security\microsofttpm', 'root\CIMV2\TerminalServices']
  workers:
    description:
      - How many targets are verified at the same time, spread over one worker process per CPU core;
        from 1 to 1024.
    type: int
    default: 32
seealso:
  - module: scanready.windows.share_access
  - module: scanready.windows.registry_access
  - module: scanready.windows.readiness_report
"""

EXAMPLES = r"""
- name: Verify every scan target from the scanner's side, in one batch
  scanready.windows.scan_readiness:
    domain: corp.example.com
    dc: dc1.corp.example.com
    username: qualys_scanner
    password: "{{ vault_scanner_password }}"
    # One target per host of the group (the scanready.windows.verify role does the same).
    targets: "{{ groups['scan_targets'] | scanready.windows.scan_targets(hostvars) }}"
  delegate_to: localhost
  run_once: true
  register: readiness

- name: Only shares and the registry, for two hosts given by name and address
  scanready.windows.scan_readiness:
    domain: corp.example.com
    username: qualys_scanner
    password: "{{ vault_scanner_password }}"
    targets:
      - {name: web01.corp.example.com, address: 10.0.1.21}
      - {name: db01.corp.example.com}
    services: []
    wmi_namespaces: []
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
domain:
  description: The account's DNS domain.
  returned: success, and failure when the run stopped before any target
  type: str
  sample: corp.example.com
account:
  description: The account's logon name (sAMAccountName).
  returned: success, and failure when the run stopped before any target
  type: str
  sample: qualys_scanner
summary:
  description: Counts of targets.
  returned: success, and failure when the run stopped before any target
  type: dict
  sample: {total: 9, ready: 4, not_ready: 5}
  contains:
    total:
      description: Targets verified.
      type: int
    ready:
      description: Targets that are ready.
      type: int
    not_ready:
      description: Targets that are not ready.
      type: int
elapsed_s:
  description: Seconds the whole run took.
  returned: success, and failure when the run stopped before any target
  type: float
  sample: 3.41
hosts:
  description:
    - One entry per target, in the order given.
    - When the run stopped before any target (see RV(failure_class)), every target is there and not
      ready; its C(logon) failed with the stop's class and message, nothing having been sent to it, and
      its other checks are not tested. So reports written from the result say why, instead of an earlier
      run's reports standing.
    - C(ready) is true when every check with C(required=true) has C(ok=true).
    - C(auth_scheme) is the scheme the session used (C(kerberos-aes), C(kerberos-rc4), C(ntlmv2),
      C(ntlmv1)), or null without a session.
    - C(checks) maps the check name (C(logon), C(smb_signing) (advisory), C(share:<share>), C(registry:<key>),
      C(service:<name>), C(wmi:<namespace>)) to C(ok) (true, false, or null when not tested or not
      testable), C(class) (C(ok) or the failure class), C(required) (whether it decides readiness -
      always for logon, shares and keys; for services and WMI only when they fail definitively),
      C(detail) (what was seen) and C(fix) (what to do, null when ok).
    - "Classes: C(unreachable), C(refused), C(timeout), C(logon_failure), C(account_locked),
      C(account_disabled), C(account_expired), C(password_expired), C(access_denied),
      C(share_missing), C(dc_needs_domain_admin), C(registry_unavailable), C(spn_hardening), C(service_not_running),
      C(service_not_automatic), C(service_unknown), C(wmi_access_denied), C(wmi_unavailable),
      C(wmi_privacy_not_enforced), C(signing_not_required), C(not_tested), C(error)."
  returned: success, and failure when the run stopped before any target
  type: list
  elements: dict
  sample:
    - name: t0004.corp.example.com
      address: 10.0.1.4
      ready: false
      auth_scheme: kerberos-aes
      duration_s: 0.41
      checks:
        logon: {ok: true, class: ok, required: true, fix: null,
                detail: "logged on with Kerberos AES (session key aes256-cts-hmac-sha1-96, ...)"}
        "share:C$": {ok: false, class: access_denied, required: true, detail: "C$: STATUS_ACCESS_DENIED",
                     fix: "Make the scanner account a local administrator of the host ..."}
  contains:
    name:
      description: The target's name as given.
      type: str
    address:
      description: The address connected to.
      type: str
    ready:
      description: Whether every check with C(required=true) has C(ok=true).
      type: bool
    auth_scheme:
      description: The scheme the session used, or null without a session.
      type: str
    duration_s:
      description: Seconds the target took.
      type: float
    checks:
      description:
        - By check name, a dict with C(ok), C(class), C(required), C(detail) and C(fix), as described
          for RV(hosts) above.
      type: dict
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
from ansible_collections.scanready.windows.plugins.module_utils._verify.guard import GuardStop
from ansible_collections.scanready.windows.plugins.module_utils._verify.run import stopped_at_dc, verify
from ansible_collections.scanready.windows.plugins.module_utils._verify.specs import (
    SCANNER_CREDENTIALS_SPEC,
    scan_request,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.target import (
    DEFAULT_KEYS,
    DEFAULT_NAMESPACES,
    DEFAULT_SERVICES,
)
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import (
    DEFAULT_SHARES,
    DOMAIN_ADMINS,
    PRIVILEGES,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **SCANNER_CREDENTIALS_SPEC,
            "targets": {"type": "list", "elements": "dict", "required": True, "options": {
                "name": {"type": "str", "required": True},
                "address": {"type": "str"},
                "domain_controller": {"type": "bool", "default": False},
            }},
            "privilege": {"type": "str", "default": DOMAIN_ADMINS, "choices": list(PRIVILEGES)},
            "shares": {"type": "list", "elements": "str", "default": list(DEFAULT_SHARES)},
            "registry_keys": {"type": "list", "elements": "str", "default": list(DEFAULT_KEYS), "no_log": False},
            "services": {"type": "list", "elements": "str", "default": list(DEFAULT_SERVICES)},
            "wmi_namespaces": {"type": "list", "elements": "str", "default": list(DEFAULT_NAMESPACES)},
            "workers": {"type": "int", "default": 32},
        },
        supports_check_mode=True,
    )
    require_library(module, "impacket", IMPACKET_IMPORT_ERROR)
    try:
        request = scan_request(module.params)
    except ValueError as exc:
        module.fail_json(msg=f"scan_readiness: {exc}")
    try:
        verification = verify(request)
    except GuardStop as stop:
        module.fail_json(msg=stop.message, failure_class=stop.cls, **stopped_at_dc(request, stop).as_result())
    if request.repeats:
        module.warn(f"targets listed {request.repeats} entr{'y' if request.repeats == 1 else 'ies'} more than once; "
                    "each target was verified once")
    for warning in verification.warnings:
        module.warn(warning)
    module.exit_json(**verification.as_result())


if __name__ == "__main__":
    main()
