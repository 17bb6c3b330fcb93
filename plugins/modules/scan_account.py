#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: scan_account
version_added: 0.1.0
short_description: Manage the vulnerability scanner's domain account over LDAPS
description:
  - Creates, enables, disables or removes the Active Directory user a vulnerability scanner logs on
    with, by talking LDAP over TLS from the controller straight to a domain controller.
  - Creating is all-or-nothing. The account is created disabled, its password is set, then it is
    enabled and added to Domain Admins. When any step fails (for example the domain's password
    policy refuses the password) the account is deleted again and the DC's reason is returned.
  - Only the flags and memberships named here are managed. Other bits of C(userAccountControl) and
    other group memberships are left as they are. An existing account is never moved to O(path).
  - An existing account that someone else controls is refused, because anyone allowed to create users
    in any OU could otherwise pre-create it with a password they know and be made Domain Admin. It is
    someone else's when its owner is not Domain Admins, Enterprise Admins, Administrators, SYSTEM or the
    operator (O(admin_username)), or when an explicit (not inherited) ACE gives any other principal full
    control, permission or ownership changes, write access to any of its properties, validated writes, or
    the reset-password (or every) extended right. AD's own default ACEs on every user (Account
    Operators, SELF, Cert Publishers on C(userCertificate), Terminal Server License Servers) do not count.
    The error names the DN, the owner and the offending ACEs. O(adopt=true) takes such an account over.
  - Every run returns RV(control), the account's state on these points, also for accounts it made, and
    the diff shows it before and after.
  - Every run hardens the account (one this collection made, or one it trusts); it sets C(NOT_DELEGATED)
    ("Account is sensitive and cannot be delegated") and removes every C(servicePrincipalName), reporting
    each SPN found in a warning. An SPN lets any domain user request a service ticket encrypted with the
    account's password and crack it offline (kerberoasting). Check mode and the diff show both.
author:
  - scanready maintainers (@scanready)
extends_documentation_fragment:
  - scanready.windows.attributes
  - scanready.windows.attributes.domain
  - scanready.windows.domain_connection
options:
  name:
    description:
      - The account's logon name (C(sAMAccountName)); at most 20 characters, none of
        C("/\[]:;|=,+*?<>@) and not ending in C($).
      - C(qualys), in any case, is refused; the scanning vendor reserves it.
      - On creation the UPN is set to C(name@domain).
    type: str
    default: qualys_scanner
  state:
    description:
      - V(present) makes the account exist and be enabled.
      - V(disabled) makes it exist and be disabled, for example between scan windows. The password
        still is the one set, so enabling it again is all that is needed before the next scan.
      - V(absent) deletes it.
    type: str
    choices: [present, disabled, absent]
    default: present
  password:
    description:
      - The account's password. Required to create the account.
      - Never logged, returned or shown in a diff.
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) only when the account is created.
      - V(always) also makes an existing account's password O(password). A DC never reveals a
        password, so the module tries one LDAP bind as the account with O(password). When the DC
        accepts it (or refuses only because the account is disabled, expired or outside its logon
        hours, which it says after checking the password) nothing changes; otherwise the password is
        set. That is at most one bad logon attempt per run, and only when the password really
        differs, after which the next run binds successfully.
      - That bind goes through the verify modules' lockout guard (see
        M(scanready.windows.scan_readiness)). When the guard's record holds a refusal of the account
        (a verify module or an earlier bind met a wrong password, or got no verdict), the bind is not
        made, a warning says so, and the password is set again, which costs no logon and clears the
        record. A bind the DC refuses, or that gets no answer, is recorded, so that the verify modules
        of the same run do not try the account again before the password is set.
      - Check mode makes no bind at all. It warns that the password is not checked and reports it as to
        be set (a change), since only a logon could tell.
      - When the password is set, or the bind proves it right, a refusal the verify modules recorded for
        the account on this controller (their lockout guard) is cleared, so that the next verification
        tries again; enabling the account or moving its expiry clears a refusal for disabled or expired.
        A record that cannot be cleared then is a warning (the account's change is done); a record
        directory that cannot be used at all fails the module before it connects to the DC.
    type: str
    choices: [on_create, always]
    default: on_create
  path:
    description:
      - DN of the OU or container to create the account in; it must exist.
      - Default is the domain's Users container (found by its well-known GUID, so a redirected one is honoured).
    type: str
  description:
    description:
      - The account's C(description). Left as it is when not given; an empty string removes it.
    type: str
  password_never_expires:
    description:
      - Set the C(DONT_EXPIRE_PASSWORD) flag, so scans do not start failing when the password ages out.
    type: bool
    default: true
  privilege:
    description:
      - V(domain_admins) makes the account a member of Domain Admins (found by its well-known RID),
        which scanning domain controllers and compliance scans need.
      - V(local_admins) makes it the member of O(scanner_group), a domain global security group the
        scan policy GPO (M(scanready.windows.scan_gpo)) adds to every linked host's local Administrators,
        and takes it out of Domain Admins. That GPO is denied to domain controllers, whose Administrators
        group is the domain's own, so this mode does not reach them.
      - V(none) makes sure it is in neither.
      - Switching modes moves the account in one run, joining the new mode's group before leaving the old
        one's; it leaves O(scanner_group) when the mode is not V(local_admins) (the group itself stays).
      - Other group memberships are never changed.
    type: str
    choices: [domain_admins, local_admins, none]
    default: domain_admins
  scanner_group:
    description:
      - Name (C(sAMAccountName) and CN) of the scanner group of O(privilege=local_admins); at most 64
        characters (the CN's limit; AD would take 256 for the C(sAMAccountName)), none of
        C("/\[]:;|=,+*?<>@), not ending in C($) and not the account's own name.
      - Created over LDAPS as a global security group in the account's container (O(path), or the
        Users container), with the account as its only member; all-or-nothing with the account.
      - An existing group of that name is refused, naming its DN, owner and ACEs, when its owner is not a
        privileged principal or an explicit ACE lets anyone else write it (its C(member) attribute
        included) or add themselves, and also when it has members other than the account (they would
        become local Administrators on every host); O(adopt=true) takes it over and removes them. A group
        of another type (domain local, universal, distribution) is always refused.
      - M(scanready.windows.scan_gpo) resolves the same name to the group's SID (returned in
        RV(scanner_group.sid)); both default to C(Vulnerability Scanners).
    type: str
    default: Vulnerability Scanners
    version_added: 0.2.0
  expires:
    description:
      - When the account stops working by itself (C(accountExpires)), so a scan window closes even if
        nothing runs afterwards.
      - An ISO 8601 time with a timezone, such as C(2025-06-01T18:00:00Z) or C(2025-06-01T20:00:00+02:00);
        a time without one is refused rather than guessed. Setting the same time again changes nothing.
      - A duration from now, such as C(8h), C(90m), C(2d) or C(1h30m) (units C(d), C(h), C(m), C(s)).
        A duration moves the expiry on every run (C(changed=true)), which is what a scan window playbook
        wants.
      - V(never) clears the expiry.
      - Not given, the expiry is left as it is. A time in the past is set as asked (the account cannot
        log on) with a warning.
    type: str
    version_added: 0.2.0
  create:
    description:
      - Whether O(state=present) or O(state=disabled) may create a missing account.
      - V(false) leaves a missing account missing (C(changed=false), O(password) not needed); a
        rollback uses it to disable the account without ever creating one.
    type: bool
    default: true
  adopt:
    description:
      - Take over an existing account this collection did not make, or one whose settings let others
        log on as it or act as it. In that run its password is set to O(password) (required, whatever
        O(update_password) says); the C(userAccountControl) flags C(DONT_REQ_PREAUTH), C(PASSWD_NOTREQD),
        C(ENCRYPTED_TEXT_PWD_ALLOWED), C(USE_DES_KEY_ONLY), C(TRUSTED_FOR_DELEGATION) and
        C(TRUSTED_TO_AUTH_FOR_DELEGATION) are cleared; C(servicePrincipalName), C(msDS-AllowedToDelegateTo),
        C(altSecurityIdentities) and C(msDS-KeyCredentialLink) are emptied; and, when someone else controls
        it, Domain Admins becomes its owner and the explicit ACEs that let others take it over are removed.
      - With O(privilege=local_admins), also take over an existing O(scanner_group) someone else controls or
        that has other members; Domain Admins becomes its owner, the foreign ACEs and the other members are
        removed. Done before the account is added to it.
      - The owner and ACL are taken over before anything else, so the previous controller cannot change the
        password or flags in between; Domain Admins membership comes last.
      - When ACEs inherited from the account's container let others take it over (reported in
        RV(control.inherited_foreign_aces) and warned about on every run), adopting stops the account
        inheriting; the other inherited ACEs are kept as explicit ones, as Windows does to the ACL of
        every Domain Admins member.
      - An account that needs nothing of this is left alone, so a second run reports no change.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Reads the account and reports what would change; changes nothing.
  diff_mode:
    support: full
    details: The account's state, flags (C(not_delegated) included), expiry, description, groups,
      RV(control) and RV(scanner_group) before and after; a password change is named, the password never shown.
  platform:
    details: "Runs on the controller (C(delegate_to: localhost)) and talks LDAP over TLS to a domain controller."
notes:
  - Kerberos (SASL GSSAPI) binds are not offered; the operator binds with a password over TLS.
seealso:
  - module: scanready.windows.scan_gpo
"""

EXAMPLES = r"""
- name: The scanner account, member of Domain Admins, password that does not expire
  scanready.windows.scan_account:
    domain: corp.example.com
    dc: dc1.corp.example.com
    ca_cert: /etc/pki/corp-ca.pem
    admin_username: admin@CORP.EXAMPLE.COM
    admin_password: "{{ vault_admin_password }}"
    name: qualys_scanner
    password: "{{ vault_scanner_password }}"
    description: Authenticated vulnerability scanning
  delegate_to: localhost
  run_once: true
  register: scanner

# A DC with no LDAPS and NTLM switched off, and an operator with no password to type: `kinit admin@CORP.EXAMPLE.COM`
# first (KRB5CCNAME, else the default cache, is read); LDAP goes to 389 sealed with Kerberos.
- name: The scanner account with the operator's own Kerberos ticket
  scanready.windows.scan_account:
    domain: corp.example.com
    dc: dc1.corp.example.com
    transport: sealed
    allow_ntlm: false
    name: qualys_scanner
    password: "{{ vault_scanner_password }}"
  delegate_to: localhost
  run_once: true

- name: Connection options once per play, for this module and scan_gpo
  module_defaults:
    group/scanready.windows.domain:
      domain: corp.example.com
      dc: dc1.corp.example.com
      ca_cert: /etc/pki/corp-ca.pem
      admin_username: CORP\admin
      admin_password: "{{ vault_admin_password }}"
  block:
    - name: Disable the scanner account between scan windows
      scanready.windows.scan_account:
        state: disabled
      delegate_to: localhost
      run_once: true

    - name: A scan window of eight hours, as the member of the scanner group only
      scanready.windows.scan_account:
        privilege: local_admins
        expires: 8h
      delegate_to: localhost
      run_once: true

    - name: Rotate the password, changing it only when it differs
      scanready.windows.scan_account:
        password: "{{ vault_scanner_password }}"
        update_password: always
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
dn:
  description: The account's DN (the DN it would get, in check mode; the removed one for O(state=absent)).
  returned: success
  type: str
  sample: CN=qualys_scanner,CN=Users,DC=corp,DC=example,DC=com
sid:
  description: The account's SID; null when it does not exist (yet, in check mode).
  returned: success
  type: str
  sample: S-1-5-21-2903830873-965500289-3601398399-1104
created:
  description: Whether the account was (or, in check mode, would be) created.
  returned: success
  type: bool
groups:
  description: DNs of the groups the account is a direct member of (not its primary group).
  returned: success
  type: list
  elements: str
  sample: [CN=Domain Admins,CN=Users,DC=corp,DC=example,DC=com]
enabled:
  description: Whether the account is enabled; false when it does not exist.
  returned: success
  type: bool
expires:
  description: When the account expires (C(accountExpires)), ISO 8601 in UTC; null for never, or no account.
  returned: success
  type: str
  sample: "2025-06-01T18:00:00Z"
  version_added: 0.2.0
scanner_group:
  description:
    - The scanner group (O(scanner_group)), as it is after the run (would be, in check mode); null when it does not
      exist and O(privilege) is not V(local_admins).
    - The SID is what the scan policy's Restricted Groups entry names (M(scanready.windows.scan_gpo) looks it up
      by name itself).
  returned: success
  type: dict
  version_added: 0.2.0
  contains:
    dn:
      description: The group's DN.
      type: str
      sample: CN=Vulnerability Scanners,CN=Users,DC=corp,DC=example,DC=com
    sid:
      description: The group's SID; null for a group only about to be created in check mode.
      type: str
      sample: S-1-5-21-2903830873-965500289-3601398399-1106
    members:
      description: DNs of its members; the scanner account only, in O(privilege=local_admins).
      type: list
      elements: str
    primary_members:
      description:
        - DNs of the objects whose C(primaryGroupID) is the group (members that C(members) does not list).
        - O(adopt=true) gives each one back the domain's default primary group (C(Domain Users) for a user,
          C(Domain Computers) for a computer), so the list is empty after it; the diff's C(before) names them.
      type: list
      elements: str
      version_added: 0.5.0
control:
  description:
    - Who controls the account and what lets others in, as read from the DC (after the run's changes);
      empty when the account does not exist, and null owner for one only about to be created in check mode.
  returned: success
  type: dict
  contains:
    owner:
      description: The owner, by name and SID.
      type: str
      sample: Domain Admins (S-1-5-21-2903830873-965500289-3601398399-512)
    controlled_by_others:
      description: Whether an untrusted owner or explicit ACE lets someone else take the account over.
      type: bool
    foreign_aces:
      description: The explicit ACEs that give an untrusted principal takeover rights, with those rights.
      type: list
      elements: str
      sample: ["CN=helper,OU=Delegated,DC=corp,DC=example,DC=com (S-1-5-21-1-2-3-1107): full control"]
    inherited_foreign_aces:
      description: The same, inherited from the account's container (reported, never changed).
      type: list
      elements: str
    risky_flags:
      description: The risky C(userAccountControl) flags set, by name.
      type: list
      elements: str
      sample: [DONT_REQ_PREAUTH]
    service_principal_names:
      description: The account's SPNs (they make its password crackable offline from any user's ticket).
      type: list
      elements: str
    allowed_to_delegate_to:
      description: C(msDS-AllowedToDelegateTo) (constrained delegation targets).
      type: list
      elements: str
    alternate_credentials:
      description: Which of C(altSecurityIdentities) and C(msDS-KeyCredentialLink) are set (logons without
        the password).
      type: list
      elements: str
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.scanready.windows.plugins.module_utils import _lockout
from ansible_collections.scanready.windows.plugins.module_utils._account import (
    AccountRequest,
    control_view,
    ensure_account,
    group_view,
    iso,
)
from ansible_collections.scanready.windows.plugins.module_utils._compat import require_library
from ansible_collections.scanready.windows.plugins.module_utils._errors import fail_on_error
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    DOMAIN_CONNECTION_SPEC,
    LDAP3_IMPORT_ERROR,
    connect_module,
)
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import (
    DEFAULT_ACCOUNT,
    DEFAULT_GROUP,
    DOMAIN_ADMINS,
    PRIVILEGES,
)

ACCOUNT_SPEC: dict[str, dict[str, Any]] = {
    "name": {"type": "str", "default": DEFAULT_ACCOUNT},
    "state": {"type": "str", "default": "present", "choices": ["present", "disabled", "absent"]},
    "password": {"type": "str", "no_log": True},
    "update_password": {"type": "str", "default": "on_create", "choices": ["on_create", "always"],
                        "no_log": False},
    "path": {"type": "str"},
    "description": {"type": "str"},
    "password_never_expires": {"type": "bool", "default": True, "no_log": False},
    "privilege": {"type": "str", "default": DOMAIN_ADMINS, "choices": list(PRIVILEGES)},
    "scanner_group": {"type": "str", "default": DEFAULT_GROUP},
    "expires": {"type": "str"},
    "create": {"type": "bool", "default": True},
    "adopt": {"type": "bool", "default": False},
}


def main() -> None:
    module = AnsibleModule(argument_spec=DOMAIN_CONNECTION_SPEC | ACCOUNT_SPEC, supports_check_mode=True)
    params = module.params
    with fail_on_error(module):
        request = AccountRequest.from_params(params)
    require_library(module, "ldap3", LDAP3_IMPORT_ERROR)
    try:  # before anything is sent: the password check and the clearing below need the lockout guard's record
        _lockout.usable_dir()
    except _lockout.RecordError as exc:
        module.fail_json(msg=f"The lockout guard cannot keep its record: {exc}. Nothing was sent to the domain "
                             "controller.")
    with fail_on_error(module), connect_module(module) as conn:
        outcome = ensure_account(conn, request, domain=conn.settings.domain, check_mode=module.check_mode,
                                 operator=conn.settings.bind_user)
    for warning in outcome.warnings:
        module.warn(warning)
    try:
        if outcome.password_known:
            _lockout.forget(params["name"], conn.settings.domain)
        elif outcome.access_restored:
            _lockout.forget(params["name"], conn.settings.domain, only=("account_disabled", "account_expired"))
    except _lockout.RecordError as exc:
        module.warn(f"The account was changed as asked, but the verify modules' lockout record could not be cleared "
                    f"({exc}): delete it, or verify runs keep refusing to try the account until it expires.")
    account = outcome.account
    result: dict[str, Any] = {
        "changed": outcome.changed,
        "connection": {"transport": conn.transport, "authentication": conn.authentication},
        "created": outcome.created,
        "dn": account.dn if account else outcome.diff["before"].get("dn"),
        "sid": account.sid if account else None,
        "groups": list(account.groups) if account else [],
        "enabled": account.enabled if account else False,
        "expires": iso(account.expires_at) if account else None,
        "control": control_view(account),
        "scanner_group": group_view(outcome.group),
    }
    if module._diff:
        result["diff"] = outcome.diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
