# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet verified at once: the lockout guard, names and tickets, concurrent probes, the result.

1. The guard: one Kerberos AS-REQ for the account at the DC (kinit) before any target is touched;
   when the KDC cannot be reached (so the password was not checked), one NTLM session at the DC
   instead, unless NTLM is not allowed. A refused password, a locked, disabled or expired account ends
   the run there with one message, and is recorded on the controller (_lockout) so that every later
   verify module call for the account refuses to try: at most one bad logon per run, however many
   module calls the run makes, in parallel or not.
2. Each target's DNS name (the inventory name when it is one, else reverse DNS, else a PTR record
   in the DC's DNS); its Kerberos service ticket is asked for when its worker gets to it.
3. The targets, spread over worker processes (impacket is pure Python: one process per core) each
   running a bounded pool of threads (impacket blocks), with a connect timeout and a total time per
   target. The first logon the DC refuses under NTLM stops every further logon attempt, in every
   worker.
4. The result in the contract's shape (see scan_readiness' RETURN).
"""
from __future__ import annotations

import contextlib
import ipaddress
import math
import multiprocessing
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.connection import wait as wait_connections
from typing import Any, Final, Protocol

from ansible_collections.scanready.windows.plugins.module_utils._kerberos import (
    KerberosClient,
    KerberosError,
    ServiceTicket,
)
from ansible_collections.scanready.windows.plugins.module_utils._lockout import (
    LockoutRecord,
    RecordError,
    Refusal,
    private_dir,
    record_dir,
)
from ansible_collections.scanready.windows.plugins.module_utils._probes import (
    Check,
    Unfinished,
    failed,
    not_tested,
    passed,
    probe_registry,
    probe_services,
    probe_shares,
    probe_wmi,
    signing_check,
    split_key,
)
from ansible_collections.scanready.windows.plugins.module_utils._smb import (
    CREDENTIAL_STATUSES,
    SCHEME_NAMES,
    Credentials,
    Endpoint,
    SessionFailure,
    connect,
    logon,
)

DEFAULT_SHARES: Final = ("C$", "ADMIN$", "IPC$")
DEFAULT_KEYS: Final = ("HKLM\\Software",)
DEFAULT_SERVICES: Final = ("RemoteRegistry", "LanmanServer", "MpsSvc")
DEFAULT_NAMESPACES: Final = ("root\\cimv2\\security\\microsofttpm", "root\\CIMV2\\TerminalServices")
# Classes that mean the account itself is refused: the guard stops on them, and records them.
ACCOUNT_CLASSES: Final = frozenset(CREDENTIAL_STATUSES.values())
# kinit failures after which the KDC cannot have checked the password: only these may fall back to
# NTLM at the DC. A timeout is not one of them (the KDC may have counted a bad logon and not answered).
KDC_NOT_ASKED: Final = frozenset({"unreachable", "refused", "unavailable"})
# Bounds for the run options: beyond them a value is a typo, not a wish.
MAX_TIMEOUT_S: Final = 3600
MAX_WORKERS: Final = 1024
# A thread still busy this long after its target's time is up is left behind (its result: timeout).
GRACE_S: Final = 2.0
# A worker still running this long after its last target's time plus grace is killed.
WORKER_SLACK_S: Final = 30.0
TARGETS_PER_PROCESS: Final = 40
RESOLVE_THREADS: Final = 32


class GuardStop(Exception):
    """The guard refused to start: nothing was attempted on any target. The message says why."""

    def __init__(self, cls: str, message: str) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message


@dataclass(frozen=True)
class TargetSpec:
    name: str
    address: str | None = None


@dataclass(frozen=True)
class CheckSet:
    """What to check on every target; empty tuples leave a kind out."""

    shares: tuple[str, ...] = DEFAULT_SHARES
    registry_keys: tuple[str, ...] = DEFAULT_KEYS
    services: tuple[str, ...] = DEFAULT_SERVICES
    wmi_namespaces: tuple[str, ...] = DEFAULT_NAMESPACES

    def names(self) -> list[str]:
        return (["logon", "smb_signing"] + [f"share:{s}" for s in self.shares]
                + [f"registry:{k}" for k in self.registry_keys] + [f"service:{s}" for s in self.services]
                + [f"wmi:{n}" for n in self.wmi_namespaces])


def required_check(name: str) -> bool:
    """Logon, shares and registry keys always decide readiness; services and WMI only when they
    fail definitively (their probes then say so)."""
    return name.split(":", 1)[0] in ("logon", "share", "registry")


@dataclass(frozen=True)
class RunOptions:
    connect_timeout: float = 5.0
    target_timeout: float = 15.0
    workers: int = 32
    processes: int | None = None  # None: one per core, when there are enough targets


@dataclass
class Job:
    """One target, resolved: what a worker needs to verify it."""

    index: int
    name: str
    endpoint: Endpoint | None
    unresolved: str = ""


@dataclass
class Outcome:
    result: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class StopFlag(Protocol):
    def is_set(self) -> bool: ...

    def set(self) -> None: ...


# ---------------------------------------------------------------- tickets

class Tickets:
    """Service tickets for the ladder's Kerberos rungs. The AES rung's TGT comes from the guard;
    a later rung gets its own TGT, with its own encryption types, when a target first needs it."""

    def __init__(self, creds: Credentials, kdc: str, timeout: float, aes: KerberosClient | None,
                 unavailable: str = "") -> None:
        self._creds = creds
        self._kdc = kdc
        self._timeout = timeout
        self._clients: dict[str, KerberosClient] = {"kerberos-aes": aes} if aes is not None else {}
        self._refused: dict[str, str] = {"kerberos-aes": unavailable} if aes is None else {}
        self._lock = threading.Lock()

    def ticket(self, scheme: str, spn: str) -> ServiceTicket | str:
        client = self._client(scheme)
        return client if isinstance(client, str) else client.ticket(spn)

    def _client(self, scheme: str) -> KerberosClient | str:
        with self._lock:
            if scheme in self._refused:
                return self._refused[scheme]
            if scheme not in self._clients:
                client = KerberosClient(self._creds.realm, self._kdc, self._creds.username, scheme, self._timeout)
                try:
                    client.login(self._creds.password)
                except KerberosError as exc:
                    client.close()
                    self._refused[scheme] = f"the KDC refused a {SCHEME_NAMES[scheme]} TGT: {exc.message}"
                    return self._refused[scheme]
                self._clients[scheme] = client
            return self._clients[scheme]

    def close(self) -> None:
        """Remove the ccaches this process made (each client leaves another process's alone)."""
        for client in self._clients.values():
            client.close()


# ---------------------------------------------------------------- the guard

def preflight(creds: Credentials, dc: str, timeout: float) -> tuple[KerberosClient | None, str, list[str]]:
    """Authenticate once at the DC before any target. Returns (Kerberos client or None, why
    Kerberos is unavailable, warnings). Raises GuardStop when the account itself is refused or the
    DC cannot be asked at all."""
    client = KerberosClient(creds.realm, dc, creds.username, "kerberos-aes", timeout)
    try:
        note = client.login(creds.password)
    except KerberosError as exc:
        client.close()
        if exc.cls in ACCOUNT_CLASSES:
            cls = _refine_revoked(creds, dc, timeout) if exc.cls == "account_locked" else exc.cls
            raise GuardStop(cls, _guard_message(creds, dc, cls, f"Kerberos: {exc.message}")) from None
        if exc.cls not in KDC_NOT_ASKED:
            raise GuardStop(exc.cls, f"The Kerberos AS-REQ for {creds.username}@{creds.realm} to {dc} failed "
                                     f"({exc.message}); the KDC may have checked the password, so NTLM is not tried "
                                     "after it. No target was contacted.") from None
        if not creds.allow_ntlm:
            raise GuardStop(exc.cls, f"Kerberos to {dc} failed ({exc.message}) and allow_ntlm is false, so the "
                                     "account is not checked with NTLM either. No target was contacted.") from None
        # The KDC was not reached (or knows no AES): one NTLM logon at the DC instead.
        _ntlm_at_dc(creds, dc, timeout, f"Kerberos AS-REQ to {dc} failed: {exc.message}")
        return None, f"Kerberos is not available: {exc.message}", [
            f"Kerberos to {dc} failed ({exc.message}); the account was checked with NTLM at the DC instead, "
            "and targets are tried without Kerberos."]
    warnings = [f"The KDC warns for {creds.username}@{creds.realm}: {note}. A scanner account's password should "
                "never expire (scan_account sets that)."] if "expire" in note.lower() else []
    return client, "", warnings


def _ntlm_at_dc(creds: Credentials, dc: str, timeout: float, why: str) -> None:
    try:
        conn = connect(Endpoint(ipv4_address(dc, 445), None), timeout)
    except (OSError, SessionFailure) as exc:
        detail = exc.detail if isinstance(exc, SessionFailure) else str(exc)
        raise GuardStop("unreachable", f"Cannot check the account at the domain controller before touching the "
                                       f"targets: {why}; SMB to {dc} failed too ({detail}). No target was "
                                       f"contacted.") from None
    try:
        conn.setTimeout(timeout)
        conn.login(creds.username, creds.password, creds.domain)
    except Exception as exc:
        code = exc.get_error_code() if hasattr(exc, "get_error_code") else None
        cls = CREDENTIAL_STATUSES.get(code or 0, "error")
        raise GuardStop(cls, _guard_message(creds, dc, cls, f"{why}; NTLM at the DC: {exc}")) from None
    finally:
        conn.close_session()


def _refine_revoked(creds: Credentials, dc: str, timeout: float) -> str:
    """The KDC says only "revoked" for locked and disabled accounts; the DC's NTLM answer tells
    which. A locked account's logon is refused before its password is checked, so it adds no bad
    logon; a disabled one's adds one only if the password is wrong too. Without NTLM: "locked"."""
    if not creds.allow_ntlm:
        return "account_locked"
    try:
        _ntlm_at_dc(creds, dc, timeout, "revoked")
    except GuardStop as stop:
        return stop.cls if stop.cls in ("account_locked", "account_disabled", "account_expired") else "account_locked"
    return "account_locked"


GUARD_REASONS: Final[dict[str, str]] = {
    "logon_failure": "refused the password (or knows no such account)",
    "account_locked": "says the account is locked out (or disabled)",
    "account_disabled": "says the account is disabled",
    "account_expired": "says the account has expired",
    "password_expired": "says the account's password has expired",
}


def _guard_message(creds: Credentials, dc: str, cls: str, seen: str) -> str:
    reason = GUARD_REASONS.get(cls, "refused the account")
    return (f"The domain controller {dc} {reason} for {creds.username}@{creds.realm} ({seen}). No target was "
            "contacted, so that no further failed logon counts towards a lockout.")


@contextlib.contextmanager
def recorded_guard(creds: Credentials, dc: str) -> Iterator[LockoutRecord]:
    """The account's record, held exclusively: refuses at once when a refusal is recorded; records
    the refusal when the block raises GuardStop for the account (a wrong password, locked, ...)."""
    try:
        record = LockoutRecord(private_dir(record_dir()), creds.username, creds.realm)
        with record.exclusive():
            refused = record.read()
            if refused is not None:
                raise GuardStop(refused.cls, record.message(refused))
            try:
                yield record
            except GuardStop as stop:
                if stop.cls in ACCOUNT_CLASSES:
                    record.write(Refusal(record.account, f"the domain controller {dc}", stop.cls,
                                         GUARD_REASONS.get(stop.cls, "refused the account"), time.time()))
                    stop.message += f" Later verify runs for the account stop before trying, until {record.path} " \
                                    "is deleted or expires."
                raise
    except RecordError as exc:
        raise GuardStop("error", f"The lockout guard cannot keep its record: {exc}. No target was "
                                 "contacted.") from None


# ---------------------------------------------------------------- names

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


ReverseLookup = Callable[[str], str]


def resolve(targets: Sequence[TargetSpec], ask_dc: ReverseLookup | None = None) -> list[Job]:
    """Addresses for names without one; DNS names for Kerberos (inventory FQDN, else reverse DNS,
    else the DC's DNS through `ask_dc`)."""
    def one(item: tuple[int, TargetSpec]) -> Job:
        index, spec = item
        address = spec.address or spec.name
        problem = target_problem(address)
        if problem:
            return Job(index, spec.name, None, problem)
        if not _is_address(address):
            try:
                address = ipv4_address(address, 445)
            except OSError as exc:
                return Job(index, spec.name, None, f"the name {address} does not resolve ({exc})")
        return Job(index, spec.name, Endpoint(address, *dns_name(spec.name, address, ask_dc)))

    with ThreadPoolExecutor(max_workers=max(1, min(RESOLVE_THREADS, len(targets)))) as pool:
        return list(pool.map(one, enumerate(targets)))


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _fqdn(found: str) -> str | None:
    return found.rstrip(".").lower() if "." in found and not _is_address(found) else None


def dns_name(name: str, address: str, ask_dc: ReverseLookup | None = None) -> tuple[str | None, str]:
    """(the target's DNS name, '') or (None, why there is none)."""
    named = _fqdn(name)
    if named:
        return named, ""
    try:
        found = _fqdn(socket.gethostbyaddr(address)[0])
    except (OSError, UnicodeError):
        found = None
    if found is None and ask_dc is not None:
        found = _fqdn(ask_dc(address))
    if found:
        return found, ""
    asked = "reverse DNS of " + address + (" and the domain controller's DNS" if ask_dc else "")
    return None, (f"no DNS name: the inventory name {name!r} is not a fully qualified name and {asked} gave "
                  "none, so Kerberos (which needs cifs/<fqdn>) was skipped")


def dc_reverse_lookup(dc: str, timeout: float) -> ReverseLookup | None:
    """A PTR lookup at the DC's own DNS server (AD DNS usually holds the reverse zones when the
    controller's resolver does not), or None when the DC or dnspython cannot be found."""
    try:
        import dns.exception
        import dns.resolver
        server = ipv4_address(dc, 53)
    except (ImportError, OSError):
        return None
    silent = threading.Event()  # the DC's DNS did not answer once: not asked again in this run

    def lookup(address: str) -> str:
        if silent.is_set():
            return ""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [server]
        resolver.lifetime = timeout
        try:
            return str(resolver.resolve_address(address)[0].target)
        except dns.exception.Timeout:
            silent.set()
        except dns.exception.DNSException:
            pass
        return ""
    return lookup


# ---------------------------------------------------------------- one target

@dataclass
class Progress:
    """What a target's thread has found so far; read when the target is given up on."""

    started: float = 0.0
    scheme: str | None = None
    checks: dict[str, Check] = field(default_factory=dict)
    unfinished: str = ""  # why the session ended before every check was reached


@dataclass(frozen=True)
class Plan:
    creds: Credentials
    checks: CheckSet
    options: RunOptions
    tickets: Tickets | None


def verify_target(job: Job, plan: Plan, stop: StopFlag, progress: Progress) -> None:
    """Log on, then probe in order (shares, registry, services, WMI), recording into `progress`."""
    progress.started = time.monotonic()
    deadline = progress.started + plan.options.target_timeout
    found = progress.checks
    if job.endpoint is None:
        found["logon"] = failed("logon", "unreachable", job.unresolved, True)
        return
    try:
        session = logon(job.endpoint, plan.creds, plan.tickets, plan.options.connect_timeout, deadline, stop.is_set)
    except SessionFailure as exc:
        if exc.stops_run:
            stop.set()
        if exc.cls == "not_tested":
            found["logon"] = not_tested(exc.detail, True)
        else:
            found["logon"] = failed("logon", exc.cls, exc.detail, True)
        return
    found["logon"] = passed(session.detail, True)
    found["smb_signing"] = signing_check(session.signing_required)
    progress.scheme = session.scheme
    try:
        probe_shares(session, plan.checks.shares, found)
        probe_registry(session, plan.checks.registry_keys, found)
        probe_services(session, plan.checks.services, found)
        if not stop.is_set():  # WMI authenticates again: not after the guard stopped the run
            probe_wmi(session, plan.creds, plan.tickets, plan.checks.wmi_namespaces, found)
    except Unfinished as exc:
        progress.unfinished = str(exc)
    finally:
        session.close()


def host_result(job: Job, progress: Progress, names: Sequence[str], now: float, gave_up: bool,
                target_timeout: float, stopped: bool) -> dict[str, Any]:
    """The contract's host entry; checks never reached are not_tested with the reason."""
    checks = dict(progress.checks)
    under_way = next((name for name in names if name not in checks), None) if gave_up else None
    if under_way is not None:  # the first check without a result is the one that was under way
        checks[under_way] = failed(under_way.split(":", 1)[0], "timeout",
                                   f"no answer within the target's {target_timeout:.0f} s", required_check(under_way))
    if "logon" not in checks:
        why = ("not attempted: the run stopped after a logon failure, so that the account is not locked out"
               if stopped else "not attempted")
        checks["logon"] = not_tested(why, True)
    if checks["logon"].ok is not True:
        why = "not tested: no session (see logon)"
    elif gave_up:
        why = f"not reached: the target did not finish within its {target_timeout:.0f} s"
    elif stopped:
        why = "not tested: the run stopped after a logon failure elsewhere"
    else:
        why = f"not reached: the session ended early ({progress.unfinished or 'see the check before'})"
    ordered: dict[str, dict[str, Any]] = {}
    for name in names:
        check = checks.get(name) or not_tested(why, required_check(name))
        ordered[name] = check.as_dict()
    ready = all(c["ok"] is True for c in ordered.values() if c["required"])
    return {
        "name": job.name,
        "address": job.endpoint.address if job.endpoint else "",
        "ready": ready,
        "auth_scheme": progress.scheme,
        "duration_s": round(max(0.0, now - progress.started) if progress.started else 0.0, 2),
        "checks": ordered,
    }


# ---------------------------------------------------------------- the fleet

Work = Callable[[Job, StopFlag, Progress], None]


def run_shard(jobs: Sequence[Job], work: Work, stop: StopFlag, threads: int, target_timeout: float,
              names: Sequence[str], done: Callable[[Job, dict[str, Any]], None] = lambda job, host: None,
              ) -> list[dict[str, Any]]:
    """Verify `jobs` with a bounded thread pool; a target still running past its time plus a grace
    is reported as timed out and its thread left behind (the caller's process exits under it).
    `done` gets each target's result as soon as it is known."""
    progress = {job.index: Progress() for job in jobs}
    results: dict[int, dict[str, Any]] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, threads))
    try:
        futures: dict[Future[None], Job] = {}
        for job in jobs:
            futures[pool.submit(_guarded, work, job, stop, progress[job.index])] = job
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            now = time.monotonic()
            for future in finished:
                job = futures[future]
                results[job.index] = host_result(job, progress[job.index], names, now, False, target_timeout,
                                                 stop.is_set())
                done(job, results[job.index])
            for future in list(pending):
                job = futures[future]
                started = progress[job.index].started
                if started and now > started + target_timeout + GRACE_S:
                    pending.discard(future)
                    results[job.index] = host_result(job, progress[job.index], names, now, True, target_timeout,
                                                     stop.is_set())
                    done(job, results[job.index])
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [results[job.index] for job in jobs]


def _guarded(work: Work, job: Job, stop: StopFlag, progress: Progress) -> None:
    try:
        work(job, stop, progress)
    except Exception as exc:  # a probe bug must cost one target, not the run
        error = f"verifier error: {type(exc).__name__}"
        progress.checks.setdefault("logon", failed("logon", "error", error, True))
        progress.unfinished = error


def run_fleet(jobs: Sequence[Job], work: Work, options: RunOptions, names: Sequence[str],
              stop: StopFlag | None = None, cleanup: Callable[[], None] = lambda: None) -> list[dict[str, Any]]:
    """Spread the jobs over forked worker processes, each with its share of the threads. Each worker
    sends every target's result as it finishes, so a worker killed at its deadline loses only the
    targets it had not finished. `cleanup` runs in each worker before it exits (e.g. to remove the
    ccaches it made)."""
    if not jobs:
        return []
    processes = options.processes or min(os.cpu_count() or 1, math.ceil(len(jobs) / TARGETS_PER_PROCESS))
    processes = max(1, min(processes, len(jobs)))
    threads = max(1, math.ceil(options.workers / processes))
    ctx = multiprocessing.get_context("fork")
    flag: StopFlag = stop if stop is not None else ctx.Event()
    shards = [list(jobs[i::processes]) for i in range(processes)]
    workers: list[tuple[Any, Connection, list[Job]]] = []
    for shard in shards:
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, daemon=True,
                           args=(shard, work, flag, threads, options.target_timeout, names, sender, cleanup))
        proc.start()
        sender.close()
        workers.append((proc, receiver, shard))
    per_shard = max(len(s) for s in shards)
    deadline = time.monotonic() + math.ceil(per_shard / threads) * (options.target_timeout + GRACE_S) + WORKER_SLACK_S
    collected: dict[int, dict[str, Any]] = {}
    waiting = [receiver for _proc, receiver, _shard in workers]
    while waiting:
        ready = wait_connections(waiting, timeout=max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        for receiver in waiting[:]:
            if receiver in ready:
                try:
                    entry = receiver.recv()
                except (EOFError, OSError):  # the worker is done, or died: its missing targets are reported below
                    waiting.remove(receiver)
                    continue
                collected[entry["index"]] = entry["host"]
    for proc, receiver, _shard in workers:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)
        receiver.close()
    now = time.monotonic()
    out = []
    for job in jobs:
        host = collected.get(job.index)
        if host is None:
            reason = "the verifier's worker process for this target ended without a result"
            broken = Progress(checks={"logon": failed("logon", "error", reason, True)})
            host = host_result(job, broken, names, now, False, options.target_timeout, False)
        out.append(host)
    return out


def _worker(jobs: list[Job], work: Work, stop: StopFlag, threads: int, target_timeout: float,
            names: Sequence[str], sender: Connection, cleanup: Callable[[], None]) -> None:
    code = 0
    lock = threading.Lock()  # one message at a time on the pipe

    def send(job: Job, host: dict[str, Any]) -> None:
        with lock:
            sender.send({"index": job.index, "host": host})

    try:
        run_shard(jobs, work, stop, threads, target_timeout, names, send)
    except BaseException:
        code = 1
    finally:
        sender.close()
        cleanup()
        # Leave at once: threads given up on may still wait on a socket.
        os._exit(code)


# ---------------------------------------------------------------- the run

def verify(targets: Sequence[TargetSpec], creds: Credentials, dc: str, checks: CheckSet,
           options: RunOptions) -> Outcome:
    """The whole run; raises GuardStop before touching any target when the account is refused."""
    started = time.monotonic()
    with _terminated_as_exit():
        return _verify(targets, creds, dc, checks, options, started)


@contextlib.contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """SIGTERM as SystemExit while the run lasts, so that a terminated run still removes its
    private Kerberos directories (its finally blocks run); the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _verify(targets: Sequence[TargetSpec], creds: Credentials, dc: str, checks: CheckSet, options: RunOptions,
            started: float) -> Outcome:
    with recorded_guard(creds, dc) as record:
        client, unavailable, warnings = preflight(creds, dc, max(options.connect_timeout, 10.0))
    tickets = Tickets(creds, dc, max(options.connect_timeout, 10.0), client, unavailable)
    try:
        jobs = resolve(targets, dc_reverse_lookup(dc, min(options.connect_timeout, 5.0)))
        plan = Plan(creds, checks, options, tickets)
        stop = multiprocessing.get_context("fork").Event()

        def work(job: Job, flag: StopFlag, progress: Progress) -> None:
            verify_target(job, plan, flag, progress)

        hosts = run_fleet(jobs, work, options, checks.names(), stop, cleanup=tickets.close)
    finally:
        tickets.close()
    if stop.is_set():
        refused = next((h for h in hosts if h["checks"]["logon"]["class"] in ACCOUNT_CLASSES), None)
        where = f" at {refused['name']}" if refused else ""
        if refused:
            logon = refused["checks"]["logon"]
            record.write(Refusal(record.account, f"the target {refused['name']}", logon["class"], logon["detail"],
                                 time.time()))
        warnings.append(f"A target refused the account{where}; every further logon attempt was stopped so that "
                        "the account is not locked out. Targets not tried are reported as not_tested.")
    ready = sum(1 for h in hosts if h["ready"])
    result = {
        "changed": False,
        "domain": creds.domain,
        "account": creds.username,
        "summary": {"total": len(hosts), "ready": ready, "not_ready": len(hosts) - ready},
        "elapsed_s": round(time.monotonic() - started, 2),
        "hosts": hosts,
    }
    return Outcome(result, warnings)


# ---------------------------------------------------------------- module glue

# The options of the scanner_credentials doc fragment, merged into each verify module's spec.
SCANNER_CREDENTIALS_SPEC: Final[dict[str, dict[str, Any]]] = {
    "username": {"type": "str", "required": True, "aliases": ["account_name"]},
    "password": {"type": "str", "required": True, "no_log": True, "aliases": ["account_password"]},
    "domain": {"type": "str", "required": True},
    "dc": {"type": "str"},
    "allow_ntlmv1": {"type": "bool", "default": False},
    "allow_ntlm": {"type": "bool", "default": True},
    "connect_timeout": {"type": "int", "default": 5},
    "target_timeout": {"type": "int", "default": 15},
}


# The options of the single_target doc fragment (share_access, registry_access).
SINGLE_TARGET_SPEC: Final[dict[str, dict[str, Any]]] = {
    "target": {"type": "str", "required": True},
    "name": {"type": "str"},
}


def settings_from(params: dict[str, Any], workers: int = 1) -> tuple[Credentials, str, RunOptions]:
    """Credentials, DC and run options from module parameters; ValueError names a bad one."""
    for option in ("connect_timeout", "target_timeout"):
        if not 1 <= params[option] <= MAX_TIMEOUT_S:
            raise ValueError(f"{option} must be between 1 and {MAX_TIMEOUT_S} seconds, not {params[option]}")
    if params["connect_timeout"] > params["target_timeout"]:
        raise ValueError("connect_timeout must not be longer than target_timeout")
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}, not {workers}")
    creds = Credentials.parse(params["username"], params["password"], params["domain"], params["allow_ntlmv1"],
                              params.get("allow_ntlm", True))
    problem = domain_problem(creds.domain)
    if problem:
        raise ValueError(f"domain: {problem}")
    dc = (params.get("dc") or creds.domain).strip()
    problem = None if _is_address(dc) and ":" not in dc else domain_problem(dc)
    if problem:
        raise ValueError(f"dc: {problem}")
    options = RunOptions(float(params["connect_timeout"]), float(params["target_timeout"]), workers)
    return creds, dc, options


DNS_LABEL: Final = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def domain_problem(name: str) -> str | None:
    """Why `name` is not a DNS name this verifier can use (for a realm, a KDC, a host), or None."""
    labels = name.lower().rstrip(".").split(".")
    if len(name) > 253 or not all(DNS_LABEL.fullmatch(label) for label in labels):
        return (f"{name!r} is not a DNS name (letters, digits, '-' and '_' in labels of 1 to 63 characters, "
                "separated by single dots)")
    return None


def targets_from(items: Sequence[dict[str, Any]]) -> tuple[list[TargetSpec], int]:
    """The targets with exact repeats (same name and address) dropped, and how many were; ValueError
    for an empty list, an empty name, or one name with two addresses."""
    if not items:
        raise ValueError("targets is empty: there is nothing to verify")
    unique: dict[str, TargetSpec] = {}
    conflicts: list[str] = []
    for item in items:
        spec = TargetSpec(item["name"].strip(), (item.get("address") or "").strip() or None)
        if not spec.name:
            raise ValueError("every target needs a non-empty name")
        seen = unique.setdefault(spec.name.lower(), spec)
        if seen.address != spec.address and spec.name.lower() not in conflicts:
            conflicts.append(spec.name.lower())
    if conflicts:
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise ValueError(f"targets names {len(conflicts)} target(s) with different addresses: "
                         f"{', '.join(conflicts[:5])}{more}")
    return list(unique.values()), len(items) - len(unique)


def checked_names(kind: str, values: Sequence[str]) -> tuple[str, ...]:
    """Strip and de-duplicate a list option; ValueError for an empty entry or a bad registry key."""
    cleaned: list[str] = []
    for value in values:
        item = value.strip()
        if not item:
            raise ValueError(f"{kind} has an empty entry")
        if kind == "registry_keys":
            split_key(item)
        if item.lower() not in (c.lower() for c in cleaned):
            cleaned.append(item)
    return tuple(cleaned)


def run_single(module: Any, checks: CheckSet, verdict: str) -> None:
    """share_access / registry_access: one target (O(target), O(name)); fail_json unless every
    check worked, exit_json otherwise. `verdict` names the result's overall boolean."""
    params = module.params
    try:
        creds, dc, options = settings_from(params)
        address = params["target"].strip()
        if not address:
            raise ValueError("target must not be empty")
        spec = TargetSpec((params.get("name") or address).strip(), address)
    except ValueError as exc:
        module.fail_json(msg=f"{module._name}: {exc}", **{verdict: False})
    try:
        outcome = verify([spec], creds, dc, checks, RunOptions(options.connect_timeout, options.target_timeout, 1, 1))
    except GuardStop as stop:
        module.fail_json(msg=stop.message, failure_class=stop.cls, **{verdict: False})
    for warning in outcome.warnings:
        module.warn(warning)
    host = outcome.result["hosts"][0]
    result = {"changed": False, "name": host["name"], "address": host["address"], verdict: host["ready"],
              "auth_scheme": host["auth_scheme"], "duration_s": host["duration_s"], "checks": host["checks"]}
    if not host["ready"]:
        failures = [f"{name}: {check['class']} ({check['detail']})" + (f". Fix: {check['fix']}" if check["fix"] else "")
                    for name, check in host["checks"].items() if check["required"] and check["ok"] is not True]
        module.fail_json(msg=f"{host['name']}: " + "; ".join(failures), **result)
    module.exit_json(**result)
