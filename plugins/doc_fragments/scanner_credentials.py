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
  allow_ntlmv1:
    description:
      - Also try NTLMv1 when Kerberos and NTLMv2 did not work. Off by default, and then never tried.
      - Only turn it on when the scanner's Windows authentication record allows NTLMv1 too.
    type: bool
    default: false
  connect_timeout:
    description:
      - Seconds to wait for a target (or the DC) to accept TCP and answer the SMB negotiation.
      - A target that does not answer in time is reported as C(unreachable) (filtered).
    type: int
    default: 5
  target_timeout:
    description:
      - Seconds one target may take in total, from connecting to the last check.
      - Checks not finished in time are reported as C(timeout) and those after them as not reached.
        About 30 requests are made per target, so a healthy host needs well under a second.
    type: int
    default: 15
notes:
  - "Runs on the controller (C(delegate_to: localhost)) and talks SMB 2/3, DCE/RPC and DCOM to the
    targets, as a vulnerability scanner does. Nothing on a target is written, started or changed."
  - "Authentication schemes are tried in the scanner's order: Kerberos AES, Kerberos RC4, NTLMv2,
    then NTLMv1 only with O(allow_ntlmv1). The first that works is reported."
  - Kerberos tickets come from MIT Kerberos (C(kinit), C(kvno)) with a private configuration and
    ticket cache in a temporary directory that is removed afterwards; Kerberos needs the target's
    DNS name (for the SPN C(cifs/<fqdn>)).
  - Lockout guard. A refused password, or a locked, disabled or expired account, at the DC ends the
    run before any target is contacted. A target that refuses the account stops every further
    logon attempt of the run.
  - Set the account once per play with C(module_defaults) for C(group/scanready.windows.verify).
requirements:
  - impacket (Python library on the controller)
  - MIT Kerberos client programs C(kinit) and C(kvno) on the controller for the Kerberos schemes
    (Debian/Ubuntu C(krb5-user), RHEL C(krb5-workstation)); without them targets are tried with
    NTLM only.
"""
