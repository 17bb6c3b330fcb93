# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report model: a scan_readiness result, checked against the contract, as the reports show it.

Pure: the same result (and ``generated_at``) always gives the same model, so a re-run over an
unchanged fleet changes no file. Run times (``elapsed_s``, ``duration_s``) are left out for that reason.

Secrets: the model is built from an allow-list of fields (any other key of the result, e.g. a stray
``password``, is dropped), and the free-text fields (``detail``, ``fix``) pass through ``redact``
which masks ``password=...``-style values and hash-like hex strings. The caller never hands this
module a password, so it cannot echo one.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import NoneType
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._verify.results import (
    CheckResult,
    HostResult,
    NamedCheck,
    class_label,
)
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import SCHEME_NAMES

MASK: Final = "********"
# Columns in the order an admin reads them; unknown kinds go last, in the order first seen.
CHECK_KIND_ORDER: Final = ("logon", "smb_signing", "share", "registry", "service", "wmi")

# A value after a password-like word ("password=x", "pwd: x", "secret is x"), and hex runs the
# length of an NT hash or longer (a hash is as good as the password for pass-the-hash).
_SECRET_VALUE: Final = re.compile(
    r"(?i)\b(password|passwd|passphrase|pwd|secret|credentials?|token)(\s*[:=]\s*|\s+is\s+)(\"[^\"]*\"|'[^']*'|\S+)")
_HASH_LIKE: Final = re.compile(r"\b[0-9a-fA-F]{32,}\b")
# Characters XML 1.0 cannot carry even escaped (controls other than tab/newline/CR) and lone
# surrogates, which UTF-8 cannot encode.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class ReportError(ValueError):
    """The result does not have the scan_readiness shape; the message names the offending field."""


def redact(text: str) -> str:
    """Mask password-like values and hash-like hex strings in free text."""
    text = _SECRET_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _HASH_LIKE.sub(MASK, text)


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True)
class Readiness:
    domain: str
    account: str
    hosts: tuple[HostResult, ...]  # sorted by name
    check_names: tuple[str, ...]  # report columns
    generated_at: str | None

    @property
    def ready_hosts(self) -> tuple[HostResult, ...]:
        return tuple(h for h in self.hosts if h.ready)

    @property
    def not_ready_groups(self) -> list[tuple[str, list[HostResult]]]:
        """Not-ready hosts by class, the class with the most hosts first."""
        groups: dict[str, list[HostResult]] = {}
        for host in self.hosts:
            if not host.ready:
                groups.setdefault(host.cls, []).append(host)
        return sorted(groups.items(), key=lambda item: (-len(item[1]), class_label(item[0])))

    @property
    def advisory_groups(self) -> list[tuple[str, list[tuple[HostResult, NamedCheck]]]]:
        """Failures that do not block scanning, by class, the class with the most hosts first."""
        groups: dict[str, list[tuple[HostResult, NamedCheck]]] = {}
        for host in self.hosts:
            for name, check in host.failures:
                if not check.blocking:
                    groups.setdefault(check.cls, []).append((host, (name, check)))
        return sorted(groups.items(), key=lambda item: (-len({host.name for host, found in item[1]}),
                                                        class_label(item[0])))

    @property
    def auth_schemes(self) -> dict[str, int]:
        counts = Counter(h.auth_scheme for h in self.hosts if h.auth_scheme)
        order = list(SCHEME_NAMES)
        rank = {scheme: order.index(scheme) if scheme in order else len(order) for scheme in counts}
        return dict(sorted(counts.items(), key=lambda kv: (rank[kv[0]], kv[0])))


def scheme_label(scheme: str | None) -> str:
    return "none" if scheme is None else SCHEME_NAMES.get(scheme, scheme)


# ---------------------------------------------------------------- reading the result

def _field(data: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ReportError(f"{where}.{key} is missing")
    value = data[key]
    if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
        names = " or ".join("null" if k is NoneType else k.__name__ for k in kinds)
        raise ReportError(f"{where}.{key} must be {names}, not {type(value).__name__}")
    return value


def _text(data: Mapping[str, Any], key: str, where: str, *, secret_free: bool = True) -> str:
    value: str = _field(data, key, (str,), where)
    return _clean(value if secret_free else redact(value))


def _optional_text(data: Mapping[str, Any], key: str, where: str) -> str | None:
    value = _field(data, key, (str, NoneType), where)
    return None if value is None else _clean(redact(value))


def _parse_check(data: Any, where: str) -> CheckResult:
    if not isinstance(data, dict):
        raise ReportError(f"{where} must be a dict, not {type(data).__name__}")
    return CheckResult(
        ok=_field(data, "ok", (bool, NoneType), where),
        cls=_text(data, "class", where),
        required=_field(data, "required", (bool,), where),
        detail=_text(data, "detail", where, secret_free=False),
        fix=_optional_text(data, "fix", where),
    )


def _parse_host(data: Any, where: str) -> HostResult:
    if not isinstance(data, dict):
        raise ReportError(f"{where} must be a dict, not {type(data).__name__}")
    checks = _field(data, "checks", (dict,), where)
    for key in checks:
        if not isinstance(key, str):
            raise ReportError(f"{where}.checks has a name that is not a string: {key!r}")
    name = _text(data, "name", where)
    if not name:
        raise ReportError(f"{where}.name is empty")
    return HostResult(
        name=name,
        address=_text(data, "address", where),
        ready=_field(data, "ready", (bool,), where),
        auth_scheme=_field(data, "auth_scheme", (str, NoneType), where),
        duration_s=0.0,  # run times are left out of the reports (the same fleet, the same files)
        checks={_clean(k): _parse_check(v, f"{where}.checks[{k!r}]") for k, v in checks.items()},
    )


def _natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in re.split(r"(\d+)", text) if part)


def _check_columns(hosts: Sequence[HostResult]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for host in hosts:
        for name in host.checks:
            seen.setdefault(name, None)
    names = list(seen)

    def rank(name: str) -> tuple[int, int]:
        kind = name.split(":", 1)[0]
        kind_rank = CHECK_KIND_ORDER.index(kind) if kind in CHECK_KIND_ORDER else len(CHECK_KIND_ORDER)
        return kind_rank, names.index(name)

    return tuple(sorted(names, key=rank))


def parse_result(result: Mapping[str, Any], generated_at: str | None = None) -> Readiness:
    """Check a scan_readiness result against the contract and keep only the fields reports show."""
    if not isinstance(result, dict):
        raise ReportError(f"result must be a dict, not {type(result).__name__}")
    raw_hosts = _field(result, "hosts", (list,), "result")
    hosts = [_parse_host(h, f"result.hosts[{i}]") for i, h in enumerate(raw_hosts)]
    names = Counter(h.name for h in hosts)
    duplicates = sorted(n for n, count in names.items() if count > 1)
    if duplicates:
        raise ReportError(f"result.hosts names a target more than once: {', '.join(duplicates[:5])}")
    hosts.sort(key=lambda h: (_natural_key(h.name), h.address))
    return Readiness(
        domain=_text(result, "domain", "result"),
        account=_text(result, "account", "result"),
        hosts=tuple(hosts),
        check_names=_check_columns(hosts),
        generated_at=None if generated_at is None else _clean(generated_at),
    )


def not_ready_summary(report: Readiness) -> list[dict[str, Any]]:
    """One entry per not-ready host, grouped as in the reports: ``reason`` (class and check) and
    ``line`` (name, address, reason, detail, fix) are one line each, ready to print."""
    out = []
    for cls, hosts in report.not_ready_groups:
        for host in hosts:
            why = host.why
            name, check = why if why else (None, None)
            reason = class_label(cls) + (f" on {name}" if name else "")
            line = f"{host.name} ({host.shown_address}): {reason}"
            if check is not None:
                line += f": {check.detail.rstrip('.')}." + (f" Fix: {check.fix}" if check.fix else "")
            out.append({"name": host.name, "address": host.address, "class": str(cls), "check": name,
                        "detail": check.detail if check else None, "fix": check.fix if check else None,
                        "reason": reason, "line": " ".join(line.split())})
    return out
