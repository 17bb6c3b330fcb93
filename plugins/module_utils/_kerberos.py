# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kerberos for the scanner account through MIT Kerberos' own programs, handed to impacket.

impacket's TGS-REQ carries no authenticator checksum, which Samba's KDC rejects
(KRB_AP_ERR_INAPP_CKSUM); Windows accepts both. So the TGT (kinit) and the service tickets (kvno)
come from MIT Kerberos, into a file ccache in a private 0700 directory with a private krb5.conf that
names the KDC and the encryption types of one rung of the ladder, and impacket only presents them.
The password goes to kinit on stdin, never on a command line or into a file.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

# The rungs of the ladder that Kerberos serves, and the encryption types each asks for.
PROFILES: Final[dict[str, str]] = {
    "kerberos-aes": "aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96",
    "kerberos-rc4": "rc4-hmac",
}
# RFC 3961 numbers of the encryption types a KDC may hand out, for the detail text.
ETYPE_NAMES: Final[dict[int, str]] = {
    17: "aes128-cts-hmac-sha1-96",
    18: "aes256-cts-hmac-sha1-96",
    23: "rc4-hmac",
    3: "des-cbc-md5",
    1: "des-cbc-crc",
}
# kvno asks for this many principals per process; chunks run side by side.
KVNO_CHUNK: Final = 250
KVNO_PARALLEL: Final = 4

# MIT's messages (com_err texts, LC_ALL=C) and the class each one means, first match wins.
KINIT_FAILURES: Final[tuple[tuple[str, str, str], ...]] = (
    ("Password incorrect", "logon_failure", "the KDC refused the password"),
    ("Preauthentication failed", "logon_failure", "the KDC refused the password"),
    ("Client not found in Kerberos database", "logon_failure", "the KDC knows no such account"),
    ("Client's credentials have been revoked", "account_locked",
     "the KDC says the account's credentials are revoked (locked out or disabled)"),
    ("Client's entry in database has expired", "account_expired", "the account has expired"),
    ("Password has expired", "password_expired", "the account's password has expired"),
    ("Password expired", "password_expired", "the account's password has expired"),
    ("Cannot contact any KDC", "unreachable", "no KDC answered"),
    ("Cannot find KDC", "unreachable", "no KDC is known for the realm"),
    ("Cannot resolve network address", "unreachable", "the KDC's name does not resolve"),
    ("KDC has no support for encryption type", "refused", "the KDC refuses these encryption types"),
    ("Clock skew too great", "error", "the controller's clock differs too much from the KDC's"),
)


class KerberosError(Exception):
    """kinit or kvno failed; `cls` is a readiness class, the message is safe to show."""

    def __init__(self, cls: str, message: str) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message


@dataclass(frozen=True)
class ServiceTicket:
    """A service ticket from the ccache, in the shape impacket's kerberosLogin(TGS=...) takes."""

    spn: str
    session_etype: str
    ticket_etype: str
    tgs: dict[str, Any]


def classify_kinit(stderr: str) -> tuple[str, str]:
    """(class, detail) for kinit's complaint; unknown texts are an `error` quoting MIT's words."""
    for needle, cls, detail in KINIT_FAILURES:
        if needle.lower() in stderr.lower():
            return cls, detail
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "no message")
    return "error", f"kinit failed: {last}"


def kvno_failures(stderr: str) -> dict[str, str]:
    """Principal (upper-cased, with realm) -> MIT's reason, from kvno's per-principal complaints."""
    failures: dict[str, str] = {}
    for line in stderr.splitlines():
        match = re.match(r"kvno: (.*) while getting credentials for (\S+)", line.strip())
        if match:
            failures[match.group(2).upper()] = match.group(1)
    return failures


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


class KerberosClient:
    """A TGT and service tickets of one principal for one rung, in a private directory.

    Use as a context manager: the directory (krb5.conf, ccaches) is removed on exit.
    """

    def __init__(self, realm: str, kdc: str, username: str, scheme: str, timeout: float) -> None:
        self.realm = realm.upper()
        self.principal = f"{username}@{self.realm}"
        self.scheme = scheme
        self.timeout = timeout
        self._dir = Path(tempfile.mkdtemp(prefix="scanready-krb5-"))
        os.chmod(self._dir, 0o700)
        self._conf = self._dir / "krb5.conf"
        self._conf.write_text(krb5_conf(self.realm, kdc, PROFILES[scheme]))
        self._tgt = self._dir / "tgt.ccache"
        self._tickets: dict[str, Any] = {}  # principal -> impacket ccache Credential
        self._failures: dict[str, str] = {}

    def __enter__(self) -> KerberosClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)

    def _env(self, ccache: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KRB5")}
        env.update(KRB5_CONFIG=str(self._conf), KRB5CCNAME=f"FILE:{ccache}", LC_ALL="C", LANG="C")
        return env

    def login(self, password: str) -> str:
        """Get the TGT (one AS-REQ). Returns kinit's warnings (e.g. password expiry), else ''."""
        try:
            proc = subprocess.run(["kinit", self.principal], input=password + "\n", capture_output=True,
                                  text=True, env=self._env(self._tgt), timeout=self.timeout, check=False)
        except FileNotFoundError as exc:
            raise KerberosError("error", "MIT Kerberos (kinit) is not installed on the controller") from exc
        except subprocess.TimeoutExpired as exc:
            raise KerberosError("timeout", f"the KDC did not answer within {self.timeout:.0f} s") from exc
        if proc.returncode != 0:
            raise KerberosError(*classify_kinit(proc.stderr))
        warnings = [ln.strip() for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip().startswith("Warning:")]
        return "; ".join(w.removeprefix("Warning:").strip() for w in warnings)

    def fetch(self, spns: Iterable[str]) -> None:
        """Ask the KDC for each SPN's service ticket (TGS-REQs by kvno), in parallel chunks."""
        wanted = sorted({s for s in spns if self._key(s) not in self._tickets and self._key(s) not in self._failures})
        chunks = [wanted[i:i + KVNO_CHUNK] for i in range(0, len(wanted), KVNO_CHUNK)]
        if not chunks:
            return
        with ThreadPoolExecutor(max_workers=min(KVNO_PARALLEL, len(chunks))) as pool:
            for chunk, (stderr, ccache) in zip(chunks, pool.map(self._kvno, chunks, range(len(chunks))), strict=True):
                self._failures.update(kvno_failures(stderr))
                self._load(ccache)
                last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
                for spn in chunk:
                    if self._key(spn) not in self._tickets:
                        self._failures.setdefault(self._key(spn), last or "the KDC gave no ticket")

    def _key(self, spn: str) -> str:
        return f"{spn}@{self.realm}".upper()

    def _kvno(self, spns: list[str], number: int) -> tuple[str, Path]:
        ccache = self._dir / f"tickets-{number}.ccache"
        shutil.copyfile(self._tgt, ccache)
        try:
            proc = subprocess.run(["kvno", *spns], capture_output=True, text=True, env=self._env(ccache),
                                  timeout=self.timeout + len(spns) * 0.5, check=False)
        except subprocess.TimeoutExpired:
            return f"kvno: the KDC did not answer in time while getting credentials for {spns[0]}", ccache
        return proc.stderr, ccache

    def _load(self, ccache: Path) -> None:
        from impacket.krb5.ccache import CCache  # imported late: modules report a missing impacket themselves

        try:
            cache = CCache.loadFile(str(ccache))
        except Exception:  # an unreadable cache holds no ticket; each SPN then reports kvno's reason
            return
        for cred in cache.credentials:
            server = cred["server"].prettyPrint().decode("utf-8", "replace").upper()
            if not server.startswith("KRBTGT/"):
                self._tickets[server] = cred

    def ticket(self, spn: str) -> ServiceTicket | str:
        """The ticket for `spn`, or the reason there is none (the KDC's words)."""
        key = self._key(spn)
        cred = self._tickets.get(key)
        if cred is None:
            return self._failures.get(key, "no service ticket was requested")
        # Converted here, in the worker that uses it: the decoding is per-target CPU, not up-front.
        tgs = cred.toTGS(key)
        keytype = int(cred["key"]["keytype"])
        return ServiceTicket(spn=key, session_etype=ETYPE_NAMES.get(keytype, str(keytype)),
                             ticket_etype=_ticket_etype(tgs), tgs=tgs)


def _ticket_etype(tgs: dict[str, Any]) -> str:
    """The encryption type of the ticket itself (what the target decrypts), by name."""
    from impacket.krb5.asn1 import TGS_REP
    from pyasn1.codec.der import decoder

    rep = decoder.decode(tgs["KDC_REP"], asn1Spec=TGS_REP())[0]
    etype = int(rep["ticket"]["enc-part"]["etype"])
    return ETYPE_NAMES.get(etype, str(etype))
