"""An instance's network namespace, its veth link, its firewall and NAT rules, and /etc/hosts."""
from __future__ import annotations

import ipaddress

from .instance import Lab
from .settings import DC_SMB_PORT, HOSTS_FILE, PROXY_PORT
from .shell import run


def netns_exists(lab: Lab) -> bool:
    return lab.netns in run("ip", "netns", "list").stdout.split()


def create_network(lab: Lab, addrs: list[str]) -> None:
    """A veth pair; the DC's address on the namespace's end, and every target's /24 routed as local
    (AnyIP), so that targets answer without being interface addresses: each smbd connection lists
    the interface addresses, which costs it O(n) with thousands of them. The host reaches the
    targets through the DC's address as a gateway, not on-link: one neighbour entry for the lab
    instead of one per target, which would overflow the host's ARP table (1,024 entries by default,
    shared by every instance) with thousands of targets and drop packets."""
    run("ip", "netns", "add", lab.netns)
    run("ip", "link", "add", lab.host_if, "type", "veth", "peer", "name", lab.ns_if)
    run("ip", "link", "set", lab.ns_if, "netns", lab.netns)
    run("ip", "addr", "add", f"{lab.host_addr}/24", "dev", lab.host_if)
    run("ip", "link", "set", lab.host_if, "up")
    blocks = sorted({ipaddress.IPv4Network(f"{a}/24", strict=False) for a in addrs})
    batch = [f"addr add {lab.dc_addr}/16 dev {lab.ns_if}", f"link set {lab.ns_if} up", "link set lo up"]
    batch += [f"route add local {b} dev lo" for b in blocks]
    run("ip", "-batch", "-", ns=lab, input_text="\n".join(batch) + "\n")
    run("ip", "route", "add", str(lab.net), "via", lab.dc_addr, "dev", lab.host_if)


def shape_traffic(lab: Lab, classes: dict[str, str], rtt_ms: int, slow_ms: int) -> dict[str, int]:
    """Firewall the not-ready addresses; return the reply delay (ms) of every address behind the proxy."""
    blocked = [a for a, c in classes.items() if c == "firewall_blocked"]
    closed = [a for a, c in classes.items() if c == "port_closed"]
    delays = {a: rtt_ms + (slow_ms if c == "slow" else 0) for a, c in classes.items()
              if c not in ("firewall_blocked", "port_closed")}
    if rtt_ms:
        delays[lab.dc_addr] = rtt_ms
    delays = {a: d for a, d in delays.items() if d > 0}
    rules = ["table inet srlab {", " chain input {", "  type filter hook input priority 0; policy accept;"]
    rules += [f"  ip daddr {a} drop" for a in blocked]
    rules += [f"  ip daddr {a} tcp dport {{ 135, 139, 445 }} reject with tcp reset" for a in closed]
    rules += [" }", "}"]
    to_dc = f"  ip daddr {lab.dc_addr} tcp dport 445 redirect to :{DC_SMB_PORT}"
    rules += ["table ip srlabnat {", " chain prerouting {", "  type nat hook prerouting priority -100;"]
    if delays:
        # This kernel has no netem: SMB to delayed addresses goes through lab/lab's delay proxy.
        rules += [f"  ip daddr {{ {', '.join(delays)} }} tcp dport 445 redirect to :{PROXY_PORT}"]
    # The DC's own smbd, from outside and from inside the namespace (the delay proxy).
    rules += [to_dc, " }", " chain output {", "  type nat hook output priority -100;", to_dc, " }", "}"]
    run("nft", "-f", "-", ns=lab, input_text="\n".join(rules) + "\n")
    return delays


def update_hosts(lab: Lab, add: bool) -> None:
    lines = [ln for ln in HOSTS_FILE.read_text().splitlines() if not ln.endswith(lab.hosts_marker)]
    if add:
        lines.append(f"{lab.dc_addr}\t{lab.dc_fqdn} dc1 {lab.hosts_marker}")
    HOSTS_FILE.write_text("\n".join(lines) + "\n")
