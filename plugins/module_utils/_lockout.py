# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lockout guard's memory on the controller: one refused logon per account and domain is enough.

Each verify module call is its own process (per-host tasks at forks 5 are five at a time), so the
guard of one call cannot see another's. The first refusal (wrong password, no such account, locked,
disabled, expired) is written to a small record in a private directory of the controller user; every
later call for the same account and domain, in this run or the next few minutes, reads it and refuses
to try. An exclusive lock around the pre-flight makes parallel calls take turns: one asks the DC, the
others wait and read its verdict.

The record is keyed by a hash of account and domain and holds who refused what and when, never the
password. It expires after RECORD_TTL_S; deleting the file clears it at once.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError

RECORD_TTL_S: Final = 15 * 60
# Long enough for a few pre-flights in turn (each at most a kinit timeout and an NTLM logon).
LOCK_WAIT_S: Final = 120.0
DIR_NAME: Final = "scanready-lockout"


class RecordError(ScanreadyError):
    """The record's directory is not private, or cannot be made; the message says which path and why."""


@dataclass(frozen=True)
class Refusal:
    """What one refused logon was: never a password."""

    account: str  # user@REALM
    where: str  # the DC or target that refused
    cls: str  # the readiness class (logon_failure, account_locked, ...)
    reason: str  # what the refusing side said
    at: float  # seconds since the epoch


def record_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the records live: $XDG_RUNTIME_DIR (per user, cleared at logout) when set, else
    ~/.cache, else the temporary directory with the uid in the name."""
    env = os.environ if env is None else env
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and Path(runtime).is_absolute() and Path(runtime).is_dir():
        return Path(runtime) / DIR_NAME
    home = env.get("HOME", "")
    if home and Path(home).is_absolute() and Path(home).is_dir():
        return Path(home) / ".cache" / DIR_NAME
    return Path(tempfile.gettempdir()) / f"{DIR_NAME}-{os.geteuid()}"


def private_dir(path: Path) -> Path:
    """Make `path` (0700) or check that the one there is ours, private and not a link."""
    with contextlib.suppress(FileExistsError):
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.mkdir(mode=0o700)
    try:
        info = path.lstat()
    except OSError as exc:
        raise RecordError(f"cannot use the lockout guard's directory {path}: {exc.strerror or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise RecordError(f"the lockout guard's directory {path} is not a directory (a link or file is there)")
    if info.st_uid != os.geteuid():
        raise RecordError(f"the lockout guard's directory {path} belongs to uid {info.st_uid}, not to this "
                          f"user ({os.geteuid()}); remove it")
    if info.st_mode & 0o077:
        raise RecordError(f"the lockout guard's directory {path} is open to other users "
                          f"(mode {stat.S_IMODE(info.st_mode):04o}); make it 0700")
    return path


def record_key(username: str, realm: str) -> str:
    """The file name for an account: a hash, so that the directory listing names no account."""
    return hashlib.sha256(f"{username.lower()}@{realm.upper()}".encode()).hexdigest()[:32]


def parse_refusal(text: str) -> Refusal | None:
    """The record written by `LockoutRecord.write`, or None when the text is not one."""
    try:
        data = json.loads(text)
        return Refusal(str(data["account"]), str(data["where"]), str(data["cls"]), str(data["reason"]),
                       float(data["at"]))
    except (ValueError, KeyError, TypeError):
        return None


class LockoutRecord:
    """The record of one account (username@realm) in `directory`."""

    def __init__(self, directory: Path, username: str, realm: str, ttl: float = RECORD_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        key = record_key(username, realm)
        self.account = f"{username}@{realm.upper()}"
        self.path = directory / f"{key}.json"
        self._lock_path = directory / f"{key}.lock"
        self.ttl = ttl
        self._clock = clock

    @contextlib.contextmanager
    def exclusive(self, wait: float = LOCK_WAIT_S) -> Iterator[None]:
        """Hold the account's lock (other module processes wait for it, up to `wait` seconds)."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            give_up = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= give_up:
                        raise RecordError(f"another verify run held the lockout guard's lock {self._lock_path} "
                                          f"for more than {wait:.0f} s; nothing was tried") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def read(self) -> Refusal | None:
        """The account's refusal while it is fresh; an expired record is removed. A record that
        cannot be read is kept and counts as a refusal (the file names itself in the message)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Refusal(self.account, "?", "error", f"the record cannot be read ({exc.strerror})", self._clock())
        with os.fdopen(fd, encoding="utf-8", errors="replace") as handle:
            refusal = parse_refusal(handle.read(65536))
        if refusal is None:
            return Refusal(self.account, "?", "error", "the record is not one this collection wrote",
                           self._clock())
        if not self.fresh(refusal):
            self.clear()
            return None
        return refusal

    def fresh(self, refusal: Refusal) -> bool:
        age = self._clock() - refusal.at
        return -60 <= age < self.ttl  # a record from the future (clock set back) expires too

    def write(self, refusal: Refusal) -> None:
        """Replace the record atomically (a reader never sees half a file), mode 0600."""
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".refusal-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(refusal), handle)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def message(self, refusal: Refusal) -> str:
        """Why nothing is tried, and how to clear it."""
        left = max(0, round((refusal.at + self.ttl - self._clock()) / 60))
        when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(refusal.at))
        return (f"Not tried: {refusal.where} refused {refusal.account} at {when} ({refusal.cls}: {refusal.reason}), "
                f"so this run makes no further logon that could count towards a lockout. Fix the password or the "
                f"account, then delete {self.path} (scan_account does when it sets the password or proves it "
                f"right), or wait {left} more minute(s).")


def forget(username: str, realm: str, only: Collection[str] | None = None) -> None:
    """Clear the account's record once the refusal it remembers is over: any refusal when the password was
    just set or proven right; with `only`, a refusal of those classes (account_disabled, account_expired
    after the account was enabled or its expiry moved). A directory that is not private is left for the
    verify run to report."""
    with contextlib.suppress(RecordError):
        record = LockoutRecord(private_dir(record_dir()), username, realm)
        refusal = record.read()
        if refusal is not None and (only is None or refusal.cls in only):
            record.clear()
