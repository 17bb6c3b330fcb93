# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kerberos through MIT Kerberos' own programs, handed to impacket: the scanner's and the operator's.

impacket's TGS-REQ carries no authenticator checksum, which Samba's KDC rejects
(KRB_AP_ERR_INAPP_CKSUM); Windows accepts both. So the TGT (kinit) and the service tickets (kvno)
come from MIT Kerberos, into file ccaches in a private 0700 directory with a private krb5.conf that
names the KDC and the encryption types of one rung of the ladder; impacket only presents them.
The password goes to kinit on stdin, never on a command line or into a file.

Service tickets are asked for when a target needs one (one kvno per SPN, on a copy of the TGT's
cache), so the KDC's work overlaps with the probing of other targets instead of preceding it.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._ccache import (
    ServiceTicket,
    parse_ccache,
    service_ticket,
)
from ansible_collections.scanready.windows.plugins.module_utils._compat import ClosingContext
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import ClassifiedError, FailureClass

# The rungs of the ladder that Kerberos serves, and the encryption types each asks for.
PROFILES: Final[dict[str, str]] = {
    "kerberos-aes": "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96",
    "kerberos-rc4": "rc4-hmac",
}
# RFC 3961 numbers of the encryption types a KDC may hand out, for the detail text.
# MIT's messages (com_err texts, LC_ALL=C) and the class each one means, first match wins.
KINIT_FAILURES: Final[tuple[tuple[str, str, str], ...]] = (
    ("Password incorrect", FailureClass.LOGON_FAILURE, "the KDC refused the password"),
    ("Preauthentication failed", FailureClass.LOGON_FAILURE, "the KDC refused the password"),
    ("Client not found in Kerberos database", FailureClass.LOGON_FAILURE, "the KDC knows no such account"),
    ("Client's credentials have been revoked", FailureClass.ACCOUNT_LOCKED,
     "the KDC says the account's credentials are revoked (locked out or disabled)"),
    ("Client's entry in database has expired", FailureClass.ACCOUNT_EXPIRED, "the account has expired"),
    ("Password has expired", FailureClass.PASSWORD_EXPIRED, "the account's password has expired"),
    ("Password expired", FailureClass.PASSWORD_EXPIRED, "the account's password has expired"),
    ("Cannot contact any KDC", FailureClass.UNREACHABLE, "no KDC answered on port 88 (TCP or UDP) of the DC"),
    ("Cannot find KDC", FailureClass.UNREACHABLE, "no KDC is known for the realm"),
    ("Cannot resolve network address", FailureClass.UNREACHABLE, "the KDC's name does not resolve"),
    ("KDC has no support for encryption type", FailureClass.REFUSED, "the KDC refuses these encryption types"),
    ("Clock skew too great", FailureClass.ERROR,
     "the controller's clock differs too much from the KDC's (over 5 minutes): set the controller's time from "
     "the domain's, e.g. chrony with the DC as its server"),
)


# kinit's trace (KRB5_TRACE): the line that starts a request carrying proof of the password (an encrypted
# timestamp, or any other pre-authentication), and the lines that put a request on the wire.
TRACE_LINE: Final = re.compile(r"^\[\d+\] \d+\.\d+: ")
TRACE_PREAUTH: Final = "Produced preauth for next request"
TRACE_SENT: Final = ("Sending TCP request to", "UDP request to")


class KerberosError(ClassifiedError):
    """kinit failed; `cls` is a readiness class, the message is safe to show. `unknown`: the KDC may have been
    sent the password and gave no verdict (a timeout, an error kinit does not explain), so the logon may have
    counted as a bad one."""

    def __init__(self, cls: str, message: str, *, unknown: bool = False) -> None:
        super().__init__(cls, message)
        self.unknown = unknown


def classify_kinit(stderr: str) -> tuple[str, str]:
    """(class, detail) for kinit's complaint; unknown texts are an `error` quoting MIT's words."""
    return known_kinit(stderr) or (FailureClass.ERROR, f"kinit failed: {last_line(stderr)}")


def known_kinit(stderr: str) -> tuple[str, str] | None:
    """(class, detail) when kinit's complaint is one of KINIT_FAILURES, else None."""
    said = re.sub(r"Client '[^']*'", "Client", stderr).lower()  # newer MIT quotes the principal
    for needle, cls, detail in KINIT_FAILURES:
        if needle.lower() in said:
            return cls, detail
    return None


def split_trace(stderr: str) -> tuple[str, list[str]]:
    """kinit's own words, and its trace lines (KRB5_TRACE=/dev/stderr), which are never shown: they hold the
    encrypted timestamp."""
    own: list[str] = []
    trace: list[str] = []
    for line in stderr.splitlines():
        (trace if TRACE_LINE.match(line) else own).append(line)
    return "\n".join(own), trace


def password_sent(trace: list[str]) -> bool | None:
    """Whether a request carrying proof of the password left the controller (after the KDC asked for
    pre-authentication); None without a trace to tell. The first AS-REQ holds none: a KDC that never answered
    it cannot have checked the password."""
    if not trace:
        return None
    proving = False
    for line in trace:
        if TRACE_PREAUTH in line:
            proving = True
        elif proving and any(sent in line for sent in TRACE_SENT):
            return True
    return False


def kinit_failure(stderr: str) -> KerberosError:
    """The error for a kinit that exited with a failure: its class by MIT's words; `unknown` when the KDC may
    have been sent the password without giving a verdict: no KDC answered after the password went out
    ("Cannot contact any KDC" after the pre-authenticated request: reported as a timeout), or an error this
    module does not know, unless the trace shows that no password went out."""
    said, trace = split_trace(stderr)
    cls, detail = classify_kinit(said)
    sent = password_sent(trace)
    if cls == FailureClass.UNREACHABLE and sent:
        return KerberosError(FailureClass.TIMEOUT, f"the KDC did not answer the request that carried the password "
                                                   f"({last_line(said)}): the logon may have counted", unknown=True)
    if known_kinit(said) is None and sent is not False:
        return KerberosError(cls, f"{detail}; the KDC may have checked the password, so the logon may have counted",
                             unknown=True)
    return KerberosError(cls, detail)


def last_line(text: str) -> str:
    return next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "no message")


def kvno_reason(stderr: str) -> str:
    """kvno's reason for one principal: 'kvno: <reason> while getting credentials for <spn>'."""
    match = re.search(r"kvno: (.*) while getting credentials for", stderr)
    return match.group(1) if match else last_line(stderr)


def krb5_conf(realm: str, kdc: str, enctypes: str) -> str:
    """A krb5.conf that asks one KDC, trusts no DNS and requests only `enctypes`."""
    return (
        "[libdefaults]\n"
        f" default_realm = {realm}\n"
        " dns_lookup_kdc = false\n"
        " dns_lookup_realm = false\n"
        " rdns = false\n"
        " dns_canonicalize_hostname = false\n"
        " udp_preference_limit = 1\n"
        f" default_tkt_enctypes = {enctypes}\n"
        f" default_tgs_enctypes = {enctypes}\n"
        f" permitted_enctypes = {enctypes}\n"
        "[realms]\n"
        f" {realm} = {{\n  kdc = {kdc}\n }}\n"
        "[domain_realm]\n"
        f" .{realm.lower()} = {realm}\n"
    )


# ---------------------------------------------------------------- the client

@dataclass(frozen=True)
class _Finished:
    returncode: int
    stdout: str
    stderr: str


def _run_bounded(argv: list[str], *, env: dict[str, str], timeout: float, stdin: str | None = None) -> _Finished:
    """Run a program and kill it after `timeout` seconds (TimeoutError). AnsibleModule.run_command has no
    time limit, and a KDC that never answers must not hold a worker of the fleet run."""
    async def run() -> _Finished:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(proc.communicate(None if stdin is None else stdin.encode()), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
        code = proc.returncode if proc.returncode is not None else -1
        return _Finished(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
    return asyncio.run(run())


class KerberosClient(ClosingContext):
    """A TGT of one principal for one rung, and its service tickets, in a private directory.

    Use as a context manager: the directory (krb5.conf, ccaches) is removed on exit. `ticket()` is
    safe to call from several threads.
    """

    def __init__(self, realm: str, kdc: str, username: str, scheme: str, timeout: float, *,
                 cache: str | None = None) -> None:
        """cache: the name of a ccache of the principal's own that holds its TGT (see from_cache); without it,
        login() gets a TGT into the private directory."""
        self.realm = realm.upper()
        self.principal = f"{username}@{self.realm}"
        self.scheme = scheme
        self.timeout = timeout
        self._dir = Path(tempfile.mkdtemp(prefix="scanready-krb5-"))
        os.chmod(self._dir, 0o700)
        self._conf = self._dir / "krb5.conf"
        self._conf.write_text(krb5_conf(self.realm, kdc, PROFILES[scheme]))
        self._tgt = self._dir / "tgt.ccache"
        self._cache = cache
        self._owner = os.getpid()
        self._numbers = itertools.count()

    @classmethod
    def from_cache(cls, cache: str | None, realm: str, kdc: str, timeout: float) -> KerberosClient:
        """A client on the TGT someone got with kinit: in `cache` (a ccache name), else in KRB5CCNAME's, else in
        the default cache. That cache is only read: service tickets go to the private directory."""
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        if cache:
            env["KRB5CCNAME"] = cache
        try:
            listed = _run_bounded(["klist"], env=env, timeout=timeout)
            valid = listed.returncode == 0 and _run_bounded(["klist", "-s"], env=env, timeout=timeout).returncode == 0
        except FileNotFoundError as exc:
            raise KerberosError(FailureClass.UNAVAILABLE,
                                "MIT Kerberos (klist, kvno) is not installed on the controller") from exc
        except TimeoutError as exc:
            raise KerberosError(FailureClass.TIMEOUT, "klist did not answer in time") from exc
        named = re.search(r"cache: (\S+)", listed.stdout + listed.stderr)
        where = named.group(1) if named else (cache or os.environ.get("KRB5CCNAME") or "the default cache")
        principal = re.search(r"Default principal: (\S+)", listed.stdout)
        if principal is None:
            raise KerberosError(FailureClass.LOGON_FAILURE,
                                f"no Kerberos ticket in {where}: run `kinit <admin>@{realm.upper()}` first, or give "
                                "the password")
        if not valid:
            raise KerberosError(FailureClass.PASSWORD_EXPIRED,
                                f"the Kerberos ticket of {principal.group(1)} in {where} has expired: run `kinit "
                                f"{principal.group(1)}` again")
        user, _at, own_realm = principal.group(1).rpartition("@")
        if own_realm.upper() != realm.upper():
            raise KerberosError(FailureClass.LOGON_FAILURE,
                                f"the ticket in {where} is of {principal.group(1)}, of the realm {own_realm}, not of "
                                f"the domain's realm {realm.upper()}: kinit as an account of {realm.upper()}")
        return cls(realm, kdc, user, "kerberos-aes", timeout, cache=where)

    def close(self) -> None:
        """Remove the private directory; a forked process leaves its parent's alone."""
        if os.getpid() == self._owner:
            shutil.rmtree(self._dir, ignore_errors=True)

    def _env(self, ccache: Path, trace: bool = False) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRB5")}
        env.update(KRB5_CONFIG=str(self._conf), KRB5CCNAME=f"FILE:{ccache}", LC_ALL="C", LANG="C")
        if trace:  # kinit's trace on its stderr, read here only (never a file: it holds the encrypted timestamp)
            env["KRB5_TRACE"] = "/dev/stderr"
        return env

    def login(self, password: str) -> str:
        """Get the TGT (one AS-REQ). Returns kinit's warnings (e.g. password expiry), else ''. A timeout, and a
        failure after the password went out without a verdict, is a KerberosError with `unknown` set."""
        try:
            # "--": a principal that begins with "-" is a name, never an option.
            proc = _run_bounded(["kinit", "--", self.principal], stdin=password + "\n",
                                env=self._env(self._tgt, trace=True), timeout=self.timeout)
        except FileNotFoundError as exc:
            raise KerberosError(FailureClass.UNAVAILABLE,
                                "MIT Kerberos (kinit) is not installed on the controller") from exc
        except TimeoutError as exc:
            raise KerberosError(FailureClass.TIMEOUT, f"the KDC did not answer within {self.timeout:.0f} s: the "
                                                      "logon may have counted", unknown=True) from exc
        if proc.returncode != 0:
            raise kinit_failure(proc.stderr)
        said = proc.stdout + "\n" + split_trace(proc.stderr)[0]
        warnings = [ln.strip() for ln in said.splitlines() if ln.strip().startswith("Warning:")]
        return "; ".join(w.removeprefix("Warning:").strip() for w in warnings)

    def ticket(self, spn: str) -> ServiceTicket | str:
        """The service ticket for `spn` (one TGS-REQ by kvno), or the KDC's reason. Not remembered:
        each target asks for its own SPNs once, and 10,000 kept tickets would be tens of MB."""
        # Each request works on its own copy of the TGT's cache: no lock contention between kvno
        # processes, and the cache read back holds just this ticket.
        ccache = self._dir / f"ticket-{os.getpid()}-{next(self._numbers)}.ccache"
        try:
            if self._cache is None:
                shutil.copyfile(self._tgt, ccache)
                argv = ["kvno", "--", spn]
            else:
                argv = ["kvno", "-c", self._cache, "--out-cache", f"FILE:{ccache}", "--", spn]
            proc = _run_bounded(argv, env=self._env(ccache), timeout=self.timeout)
            if proc.returncode != 0:
                return kvno_reason(proc.stderr)
            wanted = f"{spn}@{self.realm}".upper()
            for cred in parse_ccache(ccache.read_bytes()):
                if cred.server_name.upper() == wanted:
                    return service_ticket(cred)
            return "the KDC's answer held no such ticket"
        except TimeoutError:
            return f"the KDC did not answer within {self.timeout:.0f} s"
        except (OSError, ValueError) as exc:
            return f"the ticket could not be read ({exc})"
        finally:
            ccache.unlink(missing_ok=True)
