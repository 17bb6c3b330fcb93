#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scan_gpo
version_added: 0.1.0
short_description: Author and link the domain GPO that makes Windows hosts ready for authenticated scanning
description:
  - Creates, updates, links or removes one group policy object holding every Group Policy setting
    a vulnerability scanner needs for authenticated ("trusted") scans of Windows hosts, talking LDAP over
    TLS and SMB 3 (signed) from the controller straight to a domain controller. No RSAT host or WinRM to
    the DC is needed.
  - The GPO is found by its display name O(name), or by its GUID when O(guid) is set. When more than one GPO
    has that name the module fails, lists their GUIDs and changes nothing.
  - A GPO it finds (and did not just create) is trusted only when it is under the domain administrators'
    control, because its settings reach every computer it is linked to. The GPO's LDAP object and its SYSVOL
    folder must both be owned by Domain Admins, Enterprise Admins, BUILTIN\Administrators, SYSTEM or the
    account the module binds as; no explicit (not inherited) ACE may give anyone else write, create-child,
    delete, change-permissions, take-ownership or full control (CREATOR OWNER's inherit-only ACE of the default
    GPO ACL is fine); and it may hold nothing this module does not write - no user half
    (C(gPCUserExtensionNames), anything in C(User)), no client-side extensions in C(gPCMachineExtensionNames)
    other than Registry and Security Settings, no other files or folders (scripts, preferences, ...).
    Settings inside C(GptTmpl.inf) and C(Registry.pol) that the module does not manage are kept, as for a GPO
    it made. Otherwise the module fails naming the GPO (GUID, DN, display name), its owner and what it found,
    writes and links nothing, and says how to adopt it (O(adopt), O(guid)).
  - C(gPCFileSysPath) must be exactly C(\\<domain>\SysVol\<domain>\Policies\{GUID}) with the GPO's own GUID
    (any case); any other server, share or folder is refused for O(state=present) and O(state=absent), so
    the module never reads, writes, re-permissions or deletes anything outside the GPO's own folder.
  - A malformed C(nTSecurityDescriptor), folder ACL, C(GPT.INI), C(GptTmpl.inf) or C(Registry.pol) is a
    one-line error naming the GPO and the attribute or file; nothing is written.
  - It writes the C(groupPolicyContainer) (with C(gPCMachineExtensionNames)), C(GPT.INI),
    C(Machine\Microsoft\Windows NT\SecEdit\GptTmpl.inf) (Security Settings), C(Machine\Registry.pol)
    (Administrative Templates), and gives the SYSVOL folder the ACL derived from the GPO object's
    security descriptor, as the Group Policy Management console and C(samba-tool gpo create) do.
  - Settings in the GPO that the module does not manage (added, for example, with the Group Policy
    editor) are kept as they are.
  - Files and the version change only when a setting changes. The computer version goes up by one
    per change, in C(GPT.INI) and LDAP alike, after the files are written.
  - A run interrupted at any point (killed, or the DC gone) leaves a state the next run completes.
  - Check mode reports what would change; diff mode shows the change per setting, not per byte.
author:
  - scanready maintainers (@scanready)
extends_documentation_fragment:
  - scanready.windows.attributes
  - scanready.windows.attributes.domain
  - scanready.windows.domain_connection
options:
  name:
    description:
      - Display name of the GPO.
    type: str
    default: Authenticated scanning (scanready)
  state:
    description:
      - V(present) creates or updates the GPO and its links.
      - V(absent) unlinks it from every domain, OU and site, then deletes its SYSVOL folder and its LDAP object;
        the same for the O(local_admins_name) GPO.
    type: str
    choices: [present, absent]
    default: present
  sharing_model_classic:
    description:
      - Security Options, "Network access - Sharing and security model for local accounts" = Classic
        (C(ForceGuest=0)).
      - V(false) leaves the setting out of the GPO (removes it when the module set it before); so do the other
        switches below.
    type: bool
    default: true
  guest_account_disabled:
    description:
      - Security Options, "Accounts - Guest account status" = Disabled (C(EnableGuestAccount = 0)).
    type: bool
    default: true
  everyone_includes_anonymous_disabled:
    description:
      - Security Options, "Network access - Let Everyone permissions apply to anonymous users" = Disabled
        (C(EveryoneIncludesAnonymous=0)).
    type: bool
    default: true
  remote_registry_automatic:
    description:
      - System Services, Remote Registry (C(RemoteRegistry)) starts automatically.
    type: bool
    default: true
  server_automatic:
    description:
      - System Services, Server (C(LanmanServer)) starts automatically.
    type: bool
    default: true
  windows_firewall_automatic:
    description:
      - System Services, Windows Firewall (C(MpsSvc)) starts automatically.
    type: bool
    default: true
  firewall_enabled:
    description:
      - Administrative Templates, Windows Firewall, Domain Profile, "Protect all network connections".
      - V(true) enables it (C(EnableFirewall=1)), V(false) disables it (C(EnableFirewall=0)) on every computer
        under the links.
      - V(unmanaged) (the default since 0.2.0) leaves it out of this GPO, removing a value an earlier run wrote,
        so whatever sets it today (another GPO, local policy) keeps deciding; the scoped exceptions are still added.
    type: raw
    default: unmanaged
  remote_admin_exception:
    description:
      - Domain Profile, "Allow remote administration exception", scoped to O(scanner_addresses).
    type: bool
    default: true
  file_print_exception:
    description:
      - Domain Profile, "Allow file and printer sharing exception", scoped to O(scanner_addresses).
    type: bool
    default: true
  icmp_echo_exception:
    description:
      - Domain Profile, "Allow ICMP exceptions" for inbound echo requests (needed for compliance scans).
    type: bool
    default: true
  scanner_addresses:
    description:
      - The scanner appliances' IPv4/IPv6 addresses or CIDR networks the exceptions admit
        ("Allow unsolicited incoming messages from").
      - Required while O(remote_admin_exception) or O(file_print_exception) is on, unless you pass
        V(['*']) explicitly to admit every address. V(*) cannot be mixed with addresses.
    type: list
    elements: str
  links:
    description:
      - DNs of the domain, OUs or sites to link the GPO to. The GPO ends up linked exactly there; its
        links elsewhere are removed. Other GPOs' links are left exactly as they were.
      - Defaults to the domain root. V([]) links it nowhere.
    type: list
    elements: str
  enforced:
    description:
      - Make the links enforced ("No Override"), so OUs that block inheritance still get the policy.
    type: bool
    default: false
  adopt:
    description:
      - Take over a GPO this module would otherwise refuse (see the description), for example one made by hand
        or by an earlier tool. Its LDAP object's security descriptor is reset to the default GPO ACL (owner and
        group Domain Admins; Domain Admins, Enterprise Admins and SYSTEM full control; Authenticated Users read
        and apply; ENTERPRISE DOMAIN CONTROLLERS read; CREATOR OWNER full control of children, inherit only),
        its SYSVOL folder and what is already inside it get the ACL derived from that, and its settings files
        (GptTmpl.inf, Registry.pol) are rewritten to hold exactly this module's settings; every entry removed
        (a privilege right, another Restricted Groups line, a registry value) is listed in a warning. The files
        of other client-side extensions stay, and are listed in a warning too.
      - Only use it for a GPO you know.
    type: bool
    default: false
    version_added: 0.2.0
  guid:
    description:
      - The GUID of the GPO to manage (C({XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX})). The GPO is used even when its
        display name differs (it is renamed to O(name)), and pinning it counts as O(adopt=true).
      - The GPO must exist; leave O(guid) unset to have the module create one.
    type: str
    version_added: 0.2.0
  privilege:
    description:
      - The scanner's privilege mode, as O(scanready.windows.scan_account#module:privilege) sets it for the account.
      - V(local_admins) adds O(scanner_group) to the C(BUILTIN\Administrators) of every linked host that is not
        a domain controller, with a Restricted Groups "This group is a member of" entry (C([Group Membership])
        lines C(*<group SID>__Memberof = *S-1-5-32-544) and C(*<group SID>__Members =)), which adds the group
        without removing anyone.
      - That entry is in a second GPO of its own, O(local_admins_name), linked where this one is, whose ACL denies
        Apply Group Policy to Domain Controllers, Read-only Domain Controllers, ENTERPRISE DOMAIN CONTROLLERS and
        Enterprise Read-only Domain Controllers. On a domain controller C(BUILTIN\Administrators) is the domain's
        own group (log on to every DC, back up NTDS, replication), so domain controllers never apply it; they
        still apply every scanning setting of this GPO. Scanning a DC needs O(privilege=domain_admins).
      - The deny entries are put back when someone removes them. An entry an earlier version wrote into this GPO
        is moved, written into the second GPO first and then taken out of this one.
      - The module never writes C(*S-1-5-32-544__Members), which would replace the local Administrators' members
        on every host, and refuses to rewrite a C(GptTmpl.inf) that holds it.
      - V(domain_admins) and V(none) remove the O(local_admins_name) GPO, and the entry of O(scanner_group) from
        this one when an earlier version wrote it there; other Restricted Groups entries are kept. A GPO of that
        name holding anything else is refused, not removed.
    type: str
    choices: [domain_admins, local_admins, none]
    default: domain_admins
    version_added: 0.2.0
  scanner_group:
    description:
      - The scanner group's name (C(sAMAccountName)); its SID is read over LDAP.
      - With O(privilege=local_admins) it must exist (create it first - the C(scanready.windows.scanner_account)
        role with privilege C(local_admins) does) and be a security group of the domain other than its built-in
        ones (not Domain Users and the like). In check mode a missing group is shown with a placeholder SID and
        a warning.
    type: str
    default: Vulnerability Scanners
    version_added: 0.2.0
  local_admins_name:
    description:
      - Display name of the GPO that holds the Restricted Groups entry of O(privilege=local_admins), which domain
        controllers are denied applying. Default O(name) followed by C( - local Administrators).
      - It is judged as O(name) is (owner, ACL, content; O(adopt) takes it over), and removed with O(state=absent)
        or when O(privilege) is not V(local_admins), only while it holds nothing but that entry.
    type: str
    version_added: 0.5.0
  deny_interactive_logon:
    description:
      - User Rights Assignment in C(GptTmpl.inf) (C([Privilege Rights])) denying O(account_name) local logon,
        Remote Desktop logon, batch logon and service logon (C(SeDenyInteractiveLogonRight),
        C(SeDenyRemoteInteractiveLogonRight), C(SeDenyBatchLogonRight), C(SeDenyServiceLogonRight)) on the
        linked hosts. Network logon, which scanning uses, is never denied.
      - A user right set by a GPO replaces, not merges with, the value from GPOs of lower precedence; SIDs
        already listed in this GPO are kept. V(false) removes the account from those rights (the line goes when
        it is left empty).
      - The account must exist, except in check mode (placeholder SID and a warning).
    type: bool
    default: false
    version_added: 0.2.0
  account_name:
    description:
      - The scanner account's logon name (C(sAMAccountName)), whose SID O(deny_interactive_logon) uses.
    type: str
    default: qualys_scanner
    version_added: 0.2.0
notes:
  - Clients apply the policy at their next Group Policy refresh (up to 90 minutes, or C(gpupdate /force)).
  - While a run changes settings, the GPO folder holds a file C(scanready.pending) recording the version being
    published; the run removes it when done, and a run after an interrupted one finishes the job.
  - SYSVOL is written over SMB 3 with signing, NTLM-authenticated as O(admin_username); the DC must require
    SMB signing (the default for domain controllers) or the module refuses to write policy over the session.
requirements:
  - ldap3 (Python library on the controller)
  - impacket (Python library on the controller)
  - pycryptodomex (Python library on the controller)
attributes:
  check_mode:
    support: full
    details: Reads the GPO, its folder and its links and reports the writes it would make (RV(actions)); writes
      nothing.
  diff_mode:
    support: full
    details: The GPO's version, each managed setting and each link before and after, not the files' bytes.
  platform:
    details: "Runs on the controller (C(delegate_to: localhost)) and talks LDAP and SMB to a domain controller."
seealso:
  - module: scanready.windows.scan_account
"""

EXAMPLES = r"""
- name: The scan policy, linked at the domain root, exceptions scoped to the scanners
  scanready.windows.scan_gpo:
    domain: corp.example.com
    dc: dc1.corp.example.com
    ca_cert: /etc/pki/corp-ca.pem
    admin_username: admin@corp.example.com
    admin_password: "{{ vault_admin_password }}"
    scanner_addresses: [192.0.2.10, 198.51.100.0/28]
  delegate_to: localhost
  run_once: true

- name: Linked to two OUs only, enforced; the scanner group in each host's Administrators, its account denied RDP
  scanready.windows.scan_gpo:
    domain: corp.example.com
    admin_username: admin@corp.example.com
    admin_password: "{{ vault_admin_password }}"
    scanner_addresses: ["*"]
    privilege: local_admins
    scanner_group: Vulnerability Scanners
    deny_interactive_logon: true
    account_name: qualys_scanner
    links:
      - OU=Servers,DC=corp,DC=example,DC=com
      - OU=Workstations,DC=corp,DC=example,DC=com
    enforced: true
  delegate_to: localhost
  run_once: true

- name: Take over the scan policy GPO made earlier by hand (its ACL is reset to the default GPO ACL)
  scanready.windows.scan_gpo:
    domain: corp.example.com
    admin_username: admin@corp.example.com
    admin_password: "{{ vault_admin_password }}"
    guid: "{0F3C1A52-8D0E-4B7E-9A51-2C6B1D7E3F40}"
    scanner_addresses: [192.0.2.10]
  delegate_to: localhost
  run_once: true

- name: Remove the GPO and all its links
  scanready.windows.scan_gpo:
    domain: corp.example.com
    admin_username: admin@corp.example.com
    admin_password: "{{ vault_admin_password }}"
    state: absent
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
connection:
  description:
    - How the module reached the DC, once O(transport=auto) chose. C(transport) is V(ldaps), V(starttls) or V(sealed);
      C(authentication) is the operator's bind, V(simple) (inside TLS), V(kerberos) or V(ntlm).
  returned: success
  type: dict
  sample: {"transport": "sealed", "authentication": "kerberos"}
  version_added: 0.4.0
guid:
  description: The GPO's GUID (the one it would get, in check mode); null when absent and not found.
  returned: success
  type: str
  sample: "{0F3C1A52-8D0E-4B7E-9A51-2C6B1D7E3F40}"
dn:
  description: The GPO's DN; null when absent and not found.
  returned: success
  type: str
  sample: CN={0F3C1A52-8D0E-4B7E-9A51-2C6B1D7E3F40},CN=Policies,CN=System,DC=corp,DC=example,DC=com
version:
  description:
    - The GPO's C(versionNumber) after the run (user version in the high 16 bits, computer version in the low 16).
    - For O(state=absent), the version of the deleted GPO; null when there was none.
  returned: success
  type: int
  sample: 3
links:
  description: DNs of the containers the GPO is linked to after the run.
  returned: success
  type: list
  elements: str
  sample: [DC=corp,DC=example,DC=com]
security:
  description:
    - The trust state of the GPO found, as read before any change; for a GPO the run creates, C(created=true).
    - C(owner) and C(folder_owner) name the owners of the LDAP object and SYSVOL folder (C(owner_sid) the SID);
      C(offending_aces) the explicit ACEs giving a non-privileged principal control; C(foreign_content) what it
      holds that the module does not write; C(trusted) whether it passed without adoption; C(adopted) whether
      O(adopt) or O(guid) was given; C(acl_reset) whether its ACL is (or in check mode would be) reset.
    - Empty for O(state=absent).
  returned: success
  type: dict
  sample: {"owner": "Domain Admins", "owner_sid": "S-1-5-21-1004336348-1177238915-682003330-512",
           "folder_owner": "Domain Admins", "offending_aces": [], "foreign_content": [], "trusted": true,
           "adopted": false, "acl_reset": false}
  contains:
    owner:
      description: Name of the owner of the GPO's LDAP object.
      type: str
    owner_sid:
      description: SID of that owner.
      type: str
    folder_owner:
      description: Name of the owner of the GPO's SYSVOL folder; null when the folder does not exist.
      type: str
    offending_aces:
      description: The explicit ACEs, of the object and of the folder, that give a non-privileged principal control.
      type: list
      elements: str
    foreign_content:
      description: What the GPO holds that the module does not write.
      type: list
      elements: str
    trusted:
      description: Whether the GPO passed without adoption.
      type: bool
    adopted:
      description: Whether O(adopt) or O(guid) was given.
      type: bool
    acl_reset:
      description: Whether its ACL is (or in check mode would be) reset.
      type: bool
    created:
      description: True for a GPO the run creates (the only other keys then given are C(trusted) and C(adopted)).
      type: bool
local_admins:
  description:
    - The GPO of the O(privilege=local_admins) Restricted Groups entry (see O(local_admins_name)), when there is
      one after the run or the run removed one; null otherwise. Its changes and actions are in RV(changes) and
      RV(actions), each prefixed with its name.
  returned: success
  type: dict
  sample: {"name": "Authenticated scanning (scanready) - local Administrators", "present": true,
           "guid": "{0F3A1E2C-5B7D-4E8F-9A1B-2C3D4E5F6A7B}", "version": 1, "links": ["DC=corp,DC=example,DC=com"],
           "dn": "CN={0F3A1E2C-5B7D-4E8F-9A1B-2C3D4E5F6A7B},CN=Policies,CN=System,DC=corp,DC=example,DC=com",
           "security": {"trusted": true, "created": true, "adopted": false}}
  contains:
    name:
      description: Its display name.
      type: str
    present:
      description: Whether it is there after the run (in check mode, would be).
      type: bool
    guid:
      description: Its GUID.
      type: str
    dn:
      description: Its DN.
      type: str
    version:
      description: Its version after the run; for a removed GPO, the version it had.
      type: int
    links:
      description: DNs of the containers it is linked to after the run.
      type: list
      elements: str
    security:
      description: Its trust state, as RV(security) is for the scan policy GPO; empty when it is removed.
      type: dict
changes:
  description: What changed (or would change), per setting and per link.
  returned: success
  type: list
  elements: str
  sample: ["ForceGuest: 1 → 0", "link DC=corp,DC=example,DC=com: not linked → linked",
           "Restricted Groups: Vulnerability Scanners -> BUILTIN\\Administrators (member of): not configured →
            S-1-5-21-1004336348-1177238915-682003330-1105 (Vulnerability Scanners)"]
actions:
  description: The writes made (or, in check mode, that would be made), in order.
  returned: success
  type: list
  elements: str
  sample: ["write Machine\\Microsoft\\Windows NT\\SecEdit\\GptTmpl.inf", "set GPT.INI Version=4", "set versionNumber 4"]
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scanready.windows.plugins.module_utils._compat import (
    CRYPTODOME_IMPORT_ERROR,
    IMPACKET_IMPORT_ERROR,
    require_library,
)
from ansible_collections.scanready.windows.plugins.module_utils._errors import fail_on_error
from ansible_collections.scanready.windows.plugins.module_utils._gpo.options import GPO_SPEC, request_from
from ansible_collections.scanready.windows.plugins.module_utils._gpo.store import run, sysvol_of
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    DOMAIN_CONNECTION_SPEC,
    LDAP3_IMPORT_ERROR,
    connect_module,
)


def main() -> None:
    module = AnsibleModule(argument_spec=DOMAIN_CONNECTION_SPEC | GPO_SPEC, supports_check_mode=True)
    require_library(module, "ldap3", LDAP3_IMPORT_ERROR)
    require_library(module, "impacket", IMPACKET_IMPORT_ERROR)
    require_library(module, "pycryptodomex", CRYPTODOME_IMPORT_ERROR)
    with fail_on_error(module):
        request = request_from(module.params)
    with fail_on_error(module), connect_module(module) as conn:
        outcome = run(conn, sysvol_of(conn), request, conn.settings.domain, module.check_mode)
    for warning in conn.notes:
        module.warn(warning)
    for warning in outcome.warnings:
        module.warn(warning)
    result: dict[str, Any] = {
        "changed": outcome.changed,
        "connection": {"transport": conn.transport, "authentication": conn.authentication},
        "guid": outcome.guid,
        "dn": outcome.dn,
        "version": outcome.version,
        "links": outcome.links,
        "changes": outcome.changes,
        "actions": outcome.actions,
        "security": outcome.security,
        "local_admins": outcome.local_admins,
    }
    if module._diff:
        after = "" if request.state == "absent" else outcome.after
        result["diff"] = {"before": outcome.before, "after": after,
                          "before_header": f"{request.name} (settings)", "after_header": f"{request.name} (settings)"}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
