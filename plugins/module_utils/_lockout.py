# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lockout guard's memory on the controller: one refused logon per account and domain is enough.

Each verify module call is its own process (per-host tasks at forks 5 are five at a time), so the
guard of one call cannot see another's. The first refusal (wrong password, no such account, locked,
disabled, expired), and a logon whose outcome is unknown (the DC was sent the password and gave no
verdict), is written to a small record in a private directory of the controller user; every later call
for the same account and domain, in this run or the next few minutes, reads it and refuses to try. An
exclusive lock around the pre-flight makes parallel calls take turns: one asks the DC, the others wait
and read its verdict.

The record is keyed by a hash of account and domain and holds who refused what and when, never the
password. It is bound to the Ansible run that wrote it (run_id: the run's ansible-playbook or ansible
process): that run honours it however long it lasts; any other run (or a call outside Ansible) for
RECORD_TTL_S after the refusal. Deleting the file clears it at once.
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
# The programs whose process is an Ansible run (their forked workers have the same command line).
ANSIBLE_PROGRAMS: Final = frozenset({"ansible-playbook", "ansible"})
MAX_ANCESTORS: Final = 64  # how far up the process tree run_id looks


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
    run: str = ""  # the Ansible run that was refused (run_id), "" when none was found
    unknown: bool = False  # no verdict (a timeout): the logon may have counted, so it stands for a refusal


def run_id(proc: Path = Path("/proc"), pid: int | None = None) -> str:
    """The Ansible run this process is part of: "<boot id>:<pid>:<start time>" of the run's main process, the
    outermost of the ansible-playbook (or ansible) processes nearest above `pid` (default: this process's
    parent; the run's forked workers share the main process's command line, so the whole run has one id).
    "" when there is none (the module was called another way) or /proc cannot tell. At most MAX_ANCESTORS
    processes are read."""
    current = os.getppid() if pid is None else pid
    found = ""
    for _level in range(MAX_ANCESTORS):
        if current <= 1:
            break
        try:
            stat_text = (proc / str(current) / "stat").read_text(encoding="utf-8", errors="replace")
            argv = (proc / str(current) / "cmdline").read_bytes().split(b"\0")[:3]
            fields = stat_text.rsplit(")", 1)[1].split()
            parent, started = int(fields[1]), fields[19]
        except (OSError, IndexError, ValueError):
            break
        if any(os.path.basename(arg.decode("utf-8", "replace")) in ANSIBLE_PROGRAMS for arg in argv):
            found = f"{current}:{started}"
        elif found:
            break
        current = parent
    if not found:
        return ""
    try:
        boot = (proc / "sys" / "kernel" / "random" / "boot_id").read_text(encoding="utf-8").strip()
    except OSError:
        boot = "?"
    return f"{boot}:{found}"


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
    """Make `path` (0700) or check that the one there is ours, private, writable and not a link."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise RecordError(f"cannot make the lockout guard's directory {path}: {exc.strerror or exc}") from None
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
    if not os.access(path, os.W_OK | os.X_OK):
        raise RecordError(f"the lockout guard's directory {path} is not writable (mode "
                          f"{stat.S_IMODE(info.st_mode):04o}); make it 0700")
    return path


def record_key(username: str, realm: str) -> str:
    """The file name for an account: a hash, so that the directory listing names no account."""
    return hashlib.sha256(f"{username.lower()}@{realm.upper()}".encode()).hexdigest()[:32]


def parse_refusal(text: str) -> Refusal | None:
    """The record written by `LockoutRecord.write`, or None when the text is not one."""
    try:
        data = json.loads(text)
        return Refusal(str(data["account"]), str(data["where"]), str(data["cls"]), str(data["reason"]),
                       float(data["at"]), str(data.get("run", "")), bool(data.get("unknown", False)))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class LockoutRecord:
    """The record of one account (username@realm) in `directory`, for the run `run` (default: run_id())."""

    def __init__(self, directory: Path, username: str, realm: str, ttl: float = RECORD_TTL_S,
                 clock: Callable[[], float] = time.time, run: str | None = None) -> None:
        key = record_key(username, realm)
        self.account = f"{username}@{realm.upper()}"
        self.path = directory / f"{key}.json"
        self._lock_path = directory / f"{key}.lock"
        self.ttl = ttl
        self._clock = clock
        self.run = run_id() if run is None else run

    @contextlib.contextmanager
    def exclusive(self, wait: float = LOCK_WAIT_S) -> Iterator[None]:
        """Hold the account's lock (other module processes wait for it, up to `wait` seconds)."""
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise RecordError(f"cannot open the lockout guard's lock {self._lock_path}: "
                              f"{exc.strerror or exc}") from None
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
            with contextlib.suppress(RecordError):  # expired either way
                self.clear()
            return None
        return refusal

    def same_run(self, refusal: Refusal) -> bool:
        """Whether `refusal` was met by this Ansible run (never when either has no run id)."""
        return bool(self.run) and refusal.run == self.run

    def fresh(self, refusal: Refusal) -> bool:
        """A refusal of this run holds however old it is; any other for `ttl` seconds."""
        if self.same_run(refusal):
            return True
        age = self._clock() - refusal.at
        return -60 <= age < self.ttl  # a record from the future (clock set back) expires too

    def refusal(self, where: str, cls: str, reason: str, *, unknown: bool = False) -> Refusal:
        """A refusal of the account met now, in this run."""
        return Refusal(self.account, where, cls, reason, self._clock(), self.run, unknown)

    def write(self, refusal: Refusal) -> None:
        """Replace the record atomically (a reader never sees half a file), mode 0600; RecordError when the
        directory does not take it."""
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".refusal-")
        except OSError as exc:
            raise RecordError(f"cannot write the lockout guard's record {self.path}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(refusal), handle)
            os.replace(tmp, self.path)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(exc, OSError):
                raise RecordError(f"cannot write the lockout guard's record {self.path}: "
                                  f"{exc.strerror or exc}") from None
            raise

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise RecordError(f"cannot remove the lockout guard's record {self.path}: {exc.strerror or exc}") from None

    def message(self, refusal: Refusal) -> str:
        """Why nothing is tried, and how to clear it."""
        left = max(0, round((refusal.at + self.ttl - self._clock()) / 60))
        when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(refusal.at))
        said = "gave no verdict on" if refusal.unknown else "refused"  # no verdict: the reason says it may count
        what = f"{refusal.where} {said} {refusal.account} at {when} ({refusal.cls}: {refusal.reason})"
        wait = (f"This run does not try again however long it lasts; later runs wait {left} more minute(s)."
                if self.same_run(refusal) else f"Or wait {left} more minute(s).")
        return (f"Not tried: {what}, so this run makes no further logon that could count towards a lockout. Fix the "
                f"password or the account, then delete {self.path} (scan_account does when it sets the password or "
                f"proves it right). {wait}")


def usable_dir() -> Path:
    """The records' directory, made or checked (private, writable): RecordError, naming it, when it cannot be
    used. Every module that may log on as the account calls this before it sends anything."""
    return private_dir(record_dir())


def forget(username: str, realm: str, only: Collection[str] | None = None) -> None:
    """Clear the account's record once the refusal it remembers is over: any refusal when the password was
    just set or proven right; with `only`, a refusal of those classes (account_disabled, account_expired
    after the account was enabled or its expiry moved). RecordError when the directory or the record
    cannot be used (the caller warns: what it changed is done)."""
    record = LockoutRecord(usable_dir(), username, realm)
    refusal = record.read()
    if refusal is not None and (only is None or refusal.cls in only):
        record.clear()
