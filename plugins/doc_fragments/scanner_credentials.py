# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The scanner account and how targets are reached, shared by scan_readiness, share_access and
    # registry_access.
    DOCUMENTATION = r"""
options:
  username:
    description:
      - The scanner account's logon name (C(sAMAccountName)); C(DOMAIN\name) and C(name@domain) are
        accepted and the bare name is used.
      - A name with characters a logon name cannot hold (any of C("/\[]:;|=,+*?<>@) and control
        characters), longer than 20 characters, or beginning with C(-) fails the module before anything
        is tried. Letters outside ASCII are allowed, as in Active Directory.
    type: str
    required: true
    aliases: [account_name]
  password:
    description:
      - The scanner account's password. Never logged, returned or written to a file; it reaches
        C(kinit) on its standard input only.
    type: str
    required: true
    aliases: [account_password]
  domain:
    description:
      - DNS name of the account's Active Directory domain, for example C(corp.example.com); its
        upper-case form is the Kerberos realm.
    type: str
    required: true
  dc:
    description:
      - Host name or address of a domain controller of O(domain), asked once for the account
        (Kerberos AS-REQ, else an NTLM logon) before any target is touched, and used as the KDC for
        the service tickets.
      - Defaults to O(domain), which resolves to the domain's DCs where DNS is the domain's.
    type: str
  allow_ntlm:
    description:
      - Try NTLM (NTLMv2, and NTLMv1 with O(allow_ntlmv1)) when Kerberos does not work, and check the
        account with one NTLM logon at the DC when its KDC cannot be reached.
      - Set to V(false) in an estate that authenticates with Kerberos only, to keep the account's NTLM
        responses (which a relay or an offline guess can use) off the wire. Targets without Kerberos
        (no DNS name, no ticket) are then reported as not logged on, with the reason.
    type: bool
    default: true
    version_added: 0.2.0
  allow_ntlmv1:
    description:
      - Also try NTLMv1 when Kerberos and NTLMv2 did not work. Off by default, and then never tried.
      - Only turn it on when the scanner's Windows authentication record allows NTLMv1 too. Needs
        O(allow_ntlm).
    type: bool
    default: false
  connect_timeout:
    description:
      - Seconds to wait for a target (or the DC) to accept TCP and answer the SMB negotiation, from 1
        to 3600.
      - A target that does not answer in time is reported as C(unreachable) (filtered).
    type: int
    default: 5
  target_timeout:
    description:
      - Seconds one target may take in total, from connecting to the last check (every connection,
        including the DCOM ones for WMI, is bounded by it), from 1 to 3600.
      - Checks not finished in time are reported as C(timeout) and those after them as not reached.
        About 30 requests are made per target, so a healthy host needs well under a second.
    type: int
    default: 15
notes:
  - "Runs on the controller (C(delegate_to: localhost)) and talks SMB 2/3, DCE/RPC and DCOM to the
    targets, as a vulnerability scanner does. Nothing on a target is written or changed, and no service
    is started on purpose; but on Windows 8 / Server 2012 and later, opening the winreg pipe (the
    registry checks) trigger-starts a stopped Remote Registry service that is not disabled, as any
    remote registry client does."
  - "Authentication schemes are tried in the scanner's order: Kerberos AES, Kerberos RC4, NTLMv2,
    then NTLMv1 only with O(allow_ntlmv1). The first that works is reported."
  - Kerberos tickets come from MIT Kerberos (C(kinit), C(kvno)) with a private configuration and
    ticket cache in a temporary directory that is removed afterwards; Kerberos needs the target's
    DNS name (for the SPN C(cifs/<fqdn>)).
  - Lockout guard. A refused password, or a locked, disabled or expired account, at the DC ends the
    run before any target is contacted. A target that refuses the account stops every further
    logon attempt of the run. A Kerberos pre-flight that times out, or fails in a way kinit does not
    explain, after the password went out (the KDC may have counted it) also ends the run and counts as
    a refusal; only a KDC that cannot be reached at all (the password never left the controller) leads
    to the one NTLM logon at the DC.
  - "The refusal is recorded on the controller for the account and domain, in a file (mode 0600, named
    by a hash of account and domain, holding who refused what and when, never the password) under
    C($XDG_RUNTIME_DIR/scanready-lockout), else C(~/.cache/scanready-lockout), else
    C(<tmp>/scanready-lockout-<uid>). Every verify module call for that account refuses to try while
    it holds, so per-host tasks at any C(--forks) make at most one bad logon between them (parallel
    calls take turns on a lock for the pre-flight). The record holds for the rest of the Ansible run
    that met the refusal, however long it lasts (the run is told by its C(ansible-playbook) or
    C(ansible) process, found among the module's parent processes), and for 15 minutes after the
    refusal for any other run, or a module called outside Ansible. The error names the file: fix the
    password, then delete the file, or wait until it expires."
  - "A record directory that cannot be used (not a directory, not private to the user, not writable)
    fails the module with one line before anything is sent to the DC or a target.
    M(scanready.windows.scan_account) checks the current password (C(update_password=always)) through
    the same record."
  - Set the account once per play with C(module_defaults) for C(group/scanready.windows.verify).
requirements:
  - impacket (Python library on the controller)
  - dnspython (Python library on the controller), to ask the domain controller's DNS for the name of a
    target given by address when the controller's resolver has none; without it that lookup is skipped
  - MIT Kerberos client programs C(kinit) and C(kvno) on the controller for the Kerberos schemes
    (Debian/Ubuntu C(krb5-user), RHEL C(krb5-workstation)); without them targets are tried with
    NTLM only.
"""
