# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where each target is: its IPv4 address, and its DNS name for Kerberos (the inventory name when it
is one, else a PTR record in the DC's DNS, else the controller's reverse DNS)."""
from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Endpoint

RESOLVE_THREADS: Final = 32
DNS_LABEL: Final = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


@dataclass(frozen=True)
class TargetSpec:
    """A target as the play names it: its name, its address when given, and whether it is a domain
    controller (which the scanner group's local Administrators GPO does not reach)."""

    name: str
    address: str | None = None
    domain_controller: bool = False


@dataclass
class Job:
    """One target, resolved: what a worker needs to verify it."""

    index: int
    name: str
    endpoint: Endpoint | None
    unresolved: str = ""
    domain_controller: bool = False


def ipv4_address(name: str, port: int) -> str:
    """The IPv4 address `name` resolves to; OSError with a readable reason (also for names that
    cannot be encoded, such as `web01..corp`, where getaddrinfo raises UnicodeError)."""
    try:
        return str(socket.getaddrinfo(name, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
    except UnicodeError:
        raise OSError(f"{name!r} is not a valid host name (an empty or too long label, or characters DNS cannot "
                      "carry)") from None
    except OSError as exc:
        raise OSError(exc.strerror or str(exc)) from None


def target_problem(text: str) -> str | None:
    """Why a target's name or address cannot be verified (IPv6, a network), or None."""
    if "/" in text:
        return f"{text!r} is a network, not a host: list the hosts (or inventory names) to verify"
    if ":" in text:
        return f"{text!r} is an IPv6 address (or has a port): the verifier reaches targets over IPv4 on TCP 445"
    return None


# A PTR lookup at the domain's DNS: the name, '' when that DNS holds the address's reverse zone and
# no PTR record in it, None when it does not know (no such zone, no answer).
ReverseLookup = Callable[[str], "str | None"]


def resolve(targets: Sequence[TargetSpec], ask_dc: ReverseLookup | None = None) -> list[Job]:
    """Addresses for names without one; DNS names for Kerberos (inventory FQDN, else the DC's DNS
    through `ask_dc`, else the controller's reverse DNS)."""
    def one(item: tuple[int, TargetSpec]) -> Job:
        index, spec = item
        address = spec.address or spec.name
        problem = target_problem(address)
        if problem:
            return Job(index, spec.name, None, problem)
        if not is_address(address):
            try:
                address = ipv4_address(address, 445)
            except OSError as exc:
                return Job(index, spec.name, None, f"the name {address} does not resolve ({exc})")
        return Job(index, spec.name, Endpoint(address, *dns_name(spec.name, address, ask_dc)),
                   domain_controller=spec.domain_controller)

    with ThreadPoolExecutor(max_workers=max(1, min(RESOLVE_THREADS, len(targets)))) as pool:
        return list(pool.map(one, enumerate(targets)))


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _fqdn(found: str) -> str | None:
    return found.rstrip(".").lower() if "." in found and not is_address(found) else None


def dns_name(name: str, address: str, ask_dc: ReverseLookup | None = None) -> tuple[str | None, str]:
    """(the target's DNS name, '') or (None, why there is none). The domain's DNS is asked first: it
    answers at once, and when it holds the reverse zone its "no such record" is final, so the
    controller's resolver (which may wait seconds per address on a forwarder that drops queries) is
    asked only about addresses the domain's DNS does not know."""
    named = _fqdn(name)
    if named:
        return named, ""
    from_dc = ask_dc(address) if ask_dc is not None else None
    found = _fqdn(from_dc) if from_dc else None
    if from_dc is None:
        try:
            found = _fqdn(socket.gethostbyaddr(address)[0])
        except (OSError, UnicodeError):
            found = None
    if found:
        return found, ""
    if from_dc == "":
        asked = f"the domain controller's DNS holds the reverse zone of {address} and has no PTR record for it"
    else:
        asked = "reverse DNS of " + address + (" and the domain controller's DNS" if ask_dc else "") + " gave none"
    return None, (f"no DNS name: the inventory name {name!r} is not a fully qualified name and {asked}, "
                  "so Kerberos (which needs cifs/<fqdn>) was skipped")


def ptr_answer(reply: Any) -> str | None:
    """The PTR name in a DNS reply (a dns.message.Message); '' when the server is authoritative and has
    none (NXDOMAIN or no PTR record, with the AA flag); None when it does not know."""
    import dns.flags
    import dns.rcode
    import dns.rdatatype

    for rrset in reply.answer:
        if rrset.rdtype == dns.rdatatype.PTR and len(rrset):
            return str(rrset[0].target)
    authoritative = bool(reply.flags & dns.flags.AA)
    return "" if authoritative and reply.rcode() in (dns.rcode.NXDOMAIN, dns.rcode.NOERROR) else None


def dc_reverse_lookup(dc: str, timeout: float) -> ReverseLookup | None:
    """A PTR lookup at the DC's own DNS server (AD DNS usually holds the reverse zones when the
    controller's resolver does not), or None when the DC or dnspython cannot be found."""
    try:
        import dns.exception
        import dns.message
        import dns.query
        import dns.reversename
        server = ipv4_address(dc, 53)
    except (ImportError, OSError):
        return None
    silent = threading.Event()  # the DC's DNS did not answer once: not asked again in this run

    def lookup(address: str) -> str | None:
        if silent.is_set():
            return None
        query = dns.message.make_query(dns.reversename.from_address(address), "PTR")
        try:
            return ptr_answer(dns.query.udp(query, server, timeout=timeout))
        except dns.exception.Timeout:
            silent.set()
        except (dns.exception.DNSException, OSError):
            pass
        return None
    return lookup


def domain_problem(name: str) -> str | None:
    """Why `name` is not a DNS name this verifier can use (for a realm, a KDC, a host), or None."""
    labels = name.lower().rstrip(".").split(".")
    if len(name) > 253 or not all(DNS_LABEL.fullmatch(label) for label in labels):
        return (f"{name!r} is not a DNS name (letters, digits, '-' and '_' in labels of 1 to 63 characters, "
                "separated by single dots)")
    return None
