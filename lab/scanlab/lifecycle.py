"""Bringing an instance up and down, its status, and one change at a time across processes."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator

from .credentials import write_krb5_conf
from .delay_proxy import start_delay_proxy
from .domain_controller import add_reverse_record, ca_certificate, provision, ready_ports, start_samba, wait_ready
from .instance import Lab
from .inventory import write_inventory
from .member import start_member
from .network import create_network, netns_exists, shape_traffic, update_hosts
from .settings import DEFAULT_INSTANCE, NOT_READY, NTLM_AUTH, STATE_ROOT
from .shell import log, port_open, run
from .targets import configure_targets, ptr_target, target_classes


def up(lab: Lab, targets: int, rtt_ms: int, slow_ms: int, tls_mode: str, local_admins_group: str = "",
       ntlm: str = "enabled") -> None:
    wanted = {"targets": targets, "rtt_ms": rtt_ms, "slow_ms": slow_ms, "tls": tls_mode,
              "local_admins_group": local_admins_group, "ntlm": ntlm}
    params = lab.state / "params.json"
    # An instance brought up before an option existed ran with its default.
    running = {"local_admins_group": "", "ntlm": "enabled", **json.loads(params.read_text())} \
        if params.exists() else None
    if netns_exists(lab) and running == wanted \
            and all(port_open(lab.dc_addr, p) for p in ready_ports(tls_mode)) and lab.inventory.exists():
        log(f"instance {lab.instance} already up with {wanted}; reusing it")
        return
    if netns_exists(lab) or lab.state.exists():
        log(f"replacing instance {lab.instance}")
        down(lab)
    t0 = time.monotonic()
    addrs = [lab.target_addr(i) for i in range(targets)]
    classes = dict(zip(addrs, target_classes(targets), strict=True))
    names = {a: f"t{i + 1:04d}.{lab.realm}" for i, a in enumerate(addrs)}
    lab.state.mkdir(parents=True, exist_ok=True)
    (lab.state / "index").write_text(str(lab.index))
    write_krb5_conf(lab)
    try:
        create_network(lab, addrs)
        provision(lab, tls_mode, ntlm)
        configure_targets(lab, classes, local_admins_group, ntlm)
        delays = shape_traffic(lab, classes, rtt_ms, slow_ms)
        start_samba(lab)
        if delays:
            start_delay_proxy(lab, delays)
        waited = wait_ready(lab, tls_mode)
        update_hosts(lab, add=True)
        if names:
            start_member(lab, names, ntlm)
            add_reverse_record(lab, ptr_target(classes), names, ntlm)
        ca = ca_certificate(lab, tls_mode)
        if ca is not None and not ca.is_file():
            raise SystemExit(f"lab: Samba answered on LDAPS but wrote no CA certificate at {ca}")
        if ca is None and port_open(lab.dc_addr, 636):
            raise SystemExit("lab: --tls none, yet the DC answers on 636")
        write_inventory(lab, classes, names, ca, local_admins_group, tls_mode, ntlm)
    except BaseException:
        log("up failed; removing what it made")
        down(lab)
        raise
    params.write_text(json.dumps(wanted))
    counts = {c: list(classes.values()).count(c) for c in ["ready", *NOT_READY]}
    log(f"instance {lab.instance}: DC {lab.dc_fqdn} at {lab.dc_addr} (realm {lab.realm.upper()}), "
        f"{targets} targets {counts}, rtt {rtt_ms} ms, "
        f"{'no LDAPS' if tls_mode == 'none' else 'LDAPS certificate: ' + tls_mode}, NTLM {ntlm} "
        f"(ntlm auth = {NTLM_AUTH[ntlm]}), targets' admin shares: "
        f"Domain Admins{' and ' + local_admins_group if local_admins_group else ' only'}")
    log(f"ready in {time.monotonic() - t0:.1f}s (DC answered {waited:.1f}s after start); inventory: {lab.inventory}")


def down(lab: Lab) -> None:
    if netns_exists(lab):
        # Listed again and again until the namespace stays empty for a second: a dying daemon may
        # still be starting a helper (winbindd its samba-dcerpcd, which starts RPC workers).
        started = time.monotonic()
        quiet_since: float | None = None
        while time.monotonic() - started < 20:
            pids = run("ip", "netns", "pids", lab.netns, check=False).stdout.split()
            if pids:
                quiet_since = None
                sig = signal.SIGTERM if time.monotonic() - started < 3 else signal.SIGKILL
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), sig)
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= 1:
                break
            time.sleep(0.1)
        run("ip", "netns", "del", lab.netns, check=False)
    run("ip", "link", "del", lab.host_if, check=False)
    update_hosts(lab, add=False)
    if lab.state.exists():
        shutil.rmtree(lab.state)
    if lab.instance == DEFAULT_INSTANCE and lab.inventory.exists():
        lab.inventory.unlink()
    if STATE_ROOT.exists() and not any(STATE_ROOT.iterdir()):
        STATE_ROOT.rmdir()
    log(f"instance {lab.instance} is down")


def status(lab: Lab) -> int:
    if not netns_exists(lab):
        print(f"instance {lab.instance}: down")
        return 3
    params = json.loads((lab.state / "params.json").read_text()) if (lab.state / "params.json").exists() else {}
    pids = run("ip", "netns", "pids", lab.netns, check=False).stdout.split()
    ports = {p: port_open(lab.dc_addr, p) for p in ready_ports(params.get("tls", "samba"))}
    print(f"instance {lab.instance}: netns {lab.netns}, DC {lab.dc_fqdn} at {lab.dc_addr}, "
          f"realm {lab.realm.upper()}, {len(pids)} processes, ports {ports}, {params}")
    print(f"inventory: {lab.inventory}")
    return 0 if all(ports.values()) else 1


@contextlib.contextmanager
def one_change_at_a_time(wait_s: float = 900.0) -> Iterator[None]:
    """Instances are brought up and down one at a time, across processes: two `up`s of one instance would
    replace each other's Samba, and two new instances could take the same free slot (the same network)."""
    STATE_ROOT.parent.mkdir(parents=True, exist_ok=True)
    with open(STATE_ROOT.parent / f"{STATE_ROOT.name}.lock", "w") as lock:
        give_up = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > give_up:
                    raise SystemExit(f"lab: another lab/lab up or down held {lock.name} for {wait_s:.0f}s; "
                                     "nothing was done") from None
                time.sleep(0.2)
        yield
