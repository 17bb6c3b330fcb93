# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment:
    # The connection to a domain controller shared by scan_account and scan_gpo.
    DOCUMENTATION = r"""
options:
  domain:
    description:
      - DNS name of the Active Directory domain, for example C(corp.example.com).
      - The base DN is derived from it; the module fails when the DC serves a different domain.
    type: str
    required: true
  dc:
    description:
      - Host name or address of a domain controller of O(domain).
      - The DC's certificate must name it (DNS name or IP address) unless O(validate_certs=false).
      - Defaults to O(domain), which resolves to the domain's DCs where DNS is the domain's.
    type: str
  port:
    description:
      - LDAP port on O(dc).
      - Defaults to V(636) with O(tls=ldaps) and V(389) with O(tls=starttls).
    type: int
  tls:
    description:
      - How the connection is encrypted. Unencrypted LDAP is not offered.
      - V(ldaps) speaks TLS from the first byte; V(starttls) upgrades plain LDAP before binding.
    type: str
    choices: [ldaps, starttls]
    default: ldaps
  ca_cert:
    description:
      - PEM file of the CA that issued the DC's certificate.
      - When not set, the controller's system trust store is used.
    type: path
  validate_certs:
    description:
      - Verify the DC's certificate chain and that it names O(dc).
      - Only set to V(false) in a throwaway lab; the operator's password then goes to whoever answers.
    type: bool
    default: true
  admin_username:
    description:
      - The operator's domain account, as a UPN (C(admin@corp.example.com)) or C(DOMAIN\user).
      - A bare name is taken as C(name@domain).
      - It needs the rights for the change, for example membership in Domain Admins.
    type: str
    required: true
  admin_password:
    description:
      - Password of O(admin_username). Never logged or returned.
    type: str
    required: true
  connect_timeout:
    description:
      - Seconds to wait for the DC to accept the connection, and for each of its answers.
    type: int
    default: 10
notes:
  - Runs on the controller and talks LDAP over TLS straight to the DC; no WinRM to the DC is needed.
  - Set the connection once per play with C(module_defaults) for C(group/scanready.windows.domain).
requirements:
  - ldap3 (Python library on the controller)
"""
