# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When the account stops working by itself: the `expires` option, parsed before connecting, and
accountExpires (a FILETIME: 100 ns intervals since 1601-01-01 UTC) read and written.

`never` clears it; an ISO 8601 time with a timezone (`2025-06-01T18:00:00+02:00`, `...Z`) is that instant;
a duration (`8h`, `90m`, `2d`, `1h30m`, `45s`) is that long from the moment the run plans. A time without a
timezone is refused rather than guessed. All arithmetic is in UTC, so daylight saving never shifts it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError

NEVER: Final = "never"
FILETIME_EPOCH: Final = datetime(1601, 1, 1, tzinfo=UTC)
FILETIME_NEVER: Final = 0  # what the module writes for `never`
FILETIME_MAX: Final = 0x7FFFFFFFFFFFFFFF  # what AD puts on a new account: also never
_TICKS_PER_SECOND: Final = 10_000_000
_DURATION: Final = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_MAX_DURATION: Final = timedelta(days=36500)
EXAMPLES: Final = "never, an ISO 8601 time with a timezone such as 2025-06-01T18:00:00Z, or a duration such as 8h"


@dataclass(frozen=True)
class Expiry:
    """The expiry asked for: never (at and duration None), an instant, or a duration from now."""

    at: datetime | None = None  # aware, UTC
    duration: timedelta | None = None

    @property
    def never(self) -> bool:
        return self.at is None and self.duration is None

    def filetime(self, now: datetime) -> int:
        """The accountExpires value to write, with durations counted from now (aware)."""
        if self.never:
            return FILETIME_NEVER
        moment = self.at if self.at is not None else now.astimezone(UTC) + (self.duration or timedelta())
        return to_filetime(moment)


def parse_expires(text: str) -> Expiry:
    """The expiry in text; ScanreadyError with a one-line reason when it is none of the three forms."""
    value = text.strip()
    if value.lower() == NEVER:
        return Expiry()
    if not value:
        raise ScanreadyError(f"expires is empty; use {EXAMPLES}")
    duration = _parse_duration(value)
    if duration is not None:
        return Expiry(duration=duration)
    return Expiry(at=_parse_time(value))


def _parse_duration(value: str) -> timedelta | None:
    match = _DURATION.fullmatch(value.lower())
    if match is None or not any(match.groups()):
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    try:
        duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except OverflowError:
        duration = _MAX_DURATION * 2
    if duration <= timedelta(0):
        raise ScanreadyError(f"expires {value!r} is a duration of zero; use a positive one such as 8h, or never")
    if duration > _MAX_DURATION:
        raise ScanreadyError(f"expires {value!r} is more than 100 years away; use never for an account that "
                             "does not expire")
    return duration


def _parse_time(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ScanreadyError(f"expires {value!r} is not understood; use {EXAMPLES}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ScanreadyError(f"expires {value!r} has no timezone; add one (Z for UTC, or an offset such as "
                             "+02:00) so that the account expires when meant wherever the playbook runs")
    utc = moment.astimezone(UTC)
    if utc <= FILETIME_EPOCH:
        raise ScanreadyError(f"expires {value!r} is before 1601, which accountExpires cannot hold")
    return utc


def to_filetime(moment: datetime) -> int:
    """The FILETIME of an aware datetime (integer arithmetic, exact to the microsecond)."""
    delta = moment.astimezone(UTC) - FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * _TICKS_PER_SECOND + delta.microseconds * 10


def from_filetime(value: object) -> datetime | None:
    """accountExpires as the DC returns it (text or int) as an aware UTC datetime; None for never."""
    if value is None or value == "":
        return None
    number = int(str(value))
    if number in (FILETIME_NEVER, FILETIME_MAX) or number < 0:
        return None
    seconds, ticks = divmod(number, _TICKS_PER_SECOND)
    try:
        return FILETIME_EPOCH + timedelta(seconds=seconds, microseconds=ticks // 10)
    except OverflowError:
        return None  # past year 9999: never, for any practical purpose


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as returned and shown in the diff; None for never."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
