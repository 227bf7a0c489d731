"""Settings of an export: credentials, API hosts, the date range and the run's knobs.

Everything here is validated before any file is touched or any request is sent, and every
failure is an :class:`InputError` whose message names the value and the fix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from harvester.errors import InputError

#: API host of every region in the official SDK (PureCloudPlatformClientV2 v269,
#: ``purecloud_region_hosts.py``). The login host is the same with ``login.`` for ``api.``.
REGION_API_HOSTS: dict[str, str] = {
    "us-east-1": "api.mypurecloud.com",
    "us-east-2": "api.use2.us-gov-pure.cloud",
    "us-west-2": "api.usw2.pure.cloud",
    "ca-central-1": "api.cac1.pure.cloud",
    "sa-east-1": "api.sae1.pure.cloud",
    "mx-central-1": "api.mxc1.pure.cloud",
    "eu-west-1": "api.mypurecloud.ie",
    "eu-west-2": "api.euw2.pure.cloud",
    "eu-central-1": "api.mypurecloud.de",
    "eu-central-2": "api.euc2.pure.cloud",
    "eusc-de-east-1": "api.edee1.eusc-pure.cloud",
    "me-central-1": "api.mec1.pure.cloud",
    "ap-south-1": "api.aps1.pure.cloud",
    "ap-southeast-1": "api.apse1.pure.cloud",
    "ap-southeast-2": "api.mypurecloud.com.au",
    "ap-northeast-1": "api.mypurecloud.jp",
    "ap-northeast-2": "api.apne2.pure.cloud",
    "ap-northeast-3": "api.apne3.pure.cloud",
}

#: Survey statuses of the Quality API (``Survey.status`` in the official SDK).
SURVEY_STATUSES = ("Pending", "Sent", "InProgress", "Finished", "OptOut", "Error", "Expired")

ENV_REGION = "GENESYS_CLOUD_REGION"
ENV_CLIENT_ID = "GENESYS_CLOUD_CLIENT_ID"
ENV_CLIENT_SECRET = "GENESYS_CLOUD_CLIENT_SECRET"

#: Values of ``--compress``: plain NDJSON parts, or gzip parts (``part-NNNNN.ndjson.gz``).
COMPRESSIONS = ("none", "gzip")

#: Detail levels: analytics only, plus each survey, plus each evaluation.
DETAIL_LEVELS = ("summary", "answers", "full")

DEFAULT_RATE_PER_MINUTE = 300  # documented default per client-credentials token
MAX_RATE_PER_MINUTE = 1_000_000
MAX_CONCURRENCY = 64


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """An OAuth client's id and secret. The secret never appears in ``repr``."""

    client_id: str
    client_secret: str = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URLs of the API and of the login service, without a trailing slash."""

    api_url: str
    login_url: str


SURVEY_TYPES = ("Web", "Voice")
#: Media types of analytics segments (``mediaType`` of ``AnalyticsSession``).
MEDIA_TYPES = (
    "voice",
    "chat",
    "email",
    "callback",
    "cobrowse",
    "video",
    "screenshare",
    "message",
    "unknown",
)


@dataclasses.dataclass(frozen=True, slots=True)
class FilterSpec:
    """Filters as the user gave them: ids or names, not yet resolved."""

    queues: tuple[str, ...] = ()
    survey_forms: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    survey_types: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()

    def fingerprint_params(self) -> dict[str, list[str]]:
        """Return the filters in a stable form for the run's fingerprint."""
        return {field.name: sorted(getattr(self, field.name)) for field in dataclasses.fields(self)}

    @property
    def empty(self) -> bool:
        """Whether no filter is set."""
        return not any(getattr(self, field.name) for field in dataclasses.fields(self))


def parse_filter_spec(
    *,
    queues: list[str] | None,
    survey_forms: list[str] | None,
    agents: list[str] | None,
    survey_types: list[str] | None,
    media_types: list[str] | None,
) -> FilterSpec:
    """Validate the filter options that have a fixed set of values."""
    types = tuple(_choose(value, SURVEY_TYPES, "--survey-type") for value in survey_types or [])
    media = tuple(_choose(value, MEDIA_TYPES, "--media-type") for value in media_types or [])
    return FilterSpec(
        queues=tuple(_non_empty(value, "--queue") for value in queues or []),
        survey_forms=tuple(_non_empty(value, "--survey-form") for value in survey_forms or []),
        agents=tuple(_non_empty(value, "--agent") for value in agents or []),
        survey_types=types,
        media_types=media,
    )


def _non_empty(value: str, option: str) -> str:
    if not value.strip():
        msg = f"invalid {option} {value!r}: give an id or a name"
        raise InputError(msg)
    return value.strip()


def _choose(value: str, choices: tuple[str, ...], option: str) -> str:
    by_lower = {choice.lower(): choice for choice in choices}
    choice = by_lower.get(value.strip().lower())
    if choice is None:
        msg = f"invalid {option} {value!r}; valid values: {', '.join(choices)}"
        raise InputError(msg)
    return choice


@dataclasses.dataclass(frozen=True, slots=True)
class ExportOptions:
    """The validated parameters of an export: what to export and how fast."""

    start: datetime
    end: datetime
    out: Path
    statuses: frozenset[str] = frozenset({"Finished"})
    detail: str = "full"
    filters: FilterSpec = FilterSpec()
    #: ``auto``, ``query`` or ``jobs``; not part of the fingerprint, because every source
    #: yields the same conversations and resume deduplicates by survey id.
    source: str = "auto"
    #: ``start`` selects surveys by their conversation's start; ``completed`` by completion date.
    by: str = "start"
    #: With ``by="completed"``: days before ``start`` whose conversations are scanned.
    lookback_days: int = 14
    #: Conversations to export instead of a date range; ``start`` and ``end`` are then unused.
    conversation_ids: tuple[str, ...] = ()
    concurrency: int = 8
    #: Requests per minute; ``None`` reads the org's per-token limit at the start of the run.
    rate_per_minute: float | None = None
    #: Length of the rate limit's window in seconds. Only time-scaled simulators change it.
    rate_period: float = 60.0
    restart: bool = False
    max_file_bytes: int = 256 * 1024 * 1024
    #: Compression of the part files: ``none`` or ``gzip``.
    compress: str = "none"
    file_mode: int = 0o600
    checkpoint_interval: float = 5.0

    def fingerprint_params(self, endpoints: Endpoints) -> dict[str, object]:
        """Return the parameters that decide the output; a resumed run must match them."""
        return {
            "from": format_timestamp(self.start),
            "to": format_timestamp(self.end),
            "statuses": sorted(self.statuses),
            "detail": self.detail,
            "filters": self.filters.fingerprint_params(),
            "by": self.by,
            "lookbackDays": self.lookback_days if self.by == "completed" else 0,
            "apiHost": urlsplit(endpoints.api_url).netloc,
            "compress": self.compress,
            "conversations": _digest_ids(self.conversation_ids),
        }

    def fingerprint(self, endpoints: Endpoints) -> str:
        """Return a stable digest of :meth:`fingerprint_params`."""
        canonical = orjson.dumps(self.fingerprint_params(endpoints), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(canonical).hexdigest()


def _digest_ids(ids: tuple[str, ...]) -> str | None:
    """Return a short stable digest of a conversation list, or ``None`` for a date-range export."""
    if not ids:
        return None
    canonical = "\n".join(sorted(set(ids))).encode()
    return f"{len(set(ids))} ids, sha256 {hashlib.sha256(canonical).hexdigest()[:16]}"


#: ``start`` and ``end`` of an export of given conversations, which has no date range.
UNBOUNDED_START = datetime.min.replace(tzinfo=UTC)
UNBOUNDED_END = datetime.max.replace(tzinfo=UTC)


def read_conversation_ids(values: list[str] | None, path: Path | None) -> tuple[str, ...]:
    """Collect ``--conversation`` values and the lines of ``--conversations-file``."""
    ids = [value.strip() for value in values or [] if value.strip()]
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"cannot read --conversations-file {str(path)!r}: {exc.strerror}; give a readable file with one id per line"
            raise InputError(msg) from exc
        ids.extend(
            line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
        )
        if not ids:
            msg = (
                f"--conversations-file {str(path)!r} holds no conversation id; put one id per line"
            )
            raise InputError(msg)
    return tuple(dict.fromkeys(ids))


def format_timestamp(moment: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with milliseconds, such as ``2025-03-04T08:15:02.000Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_moment(value: str, option: str) -> datetime:
    """Parse a date (``2025-03-01``, midnight UTC) or an ISO-8601 time; a time without offset is UTC."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        msg = (
            f"invalid {option} {value!r}: expected a date such as 2025-03-01 "
            "or an ISO-8601 time such as 2025-03-01T08:00:00Z"
        )
        raise InputError(msg) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def validate_range(start: datetime, end: datetime, now: datetime) -> None:
    """Reject a reversed, empty or future range."""
    if end <= start:
        msg = (
            f"--to {format_timestamp(end)} is not after --from {format_timestamp(start)}; "
            "give a --to later than --from"
        )
        raise InputError(msg)
    if start >= now:
        msg = f"--from {format_timestamp(start)} is in the future; give a start before now"
        raise InputError(msg)
    # A minute of slack lets `--to` be "now" taken from a clock slightly ahead of this one.
    if end > now + timedelta(minutes=1):
        msg = (
            f"--to {format_timestamp(end)} is in the future; data after now does not exist yet, "
            f"so give --to {format_timestamp(now)} or earlier"
        )
        raise InputError(msg)


def is_loopback_host(host: str) -> bool:
    """Return whether ``host`` is ``localhost`` or a loopback IP address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_base_url(value: str, option: str) -> str:
    """Check an override URL: https, or plain http to a loopback address only."""
    parts = urlsplit(value.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        msg = f"invalid {option} {value!r}: expected a URL such as https://api.mypurecloud.com"
        raise InputError(msg)
    if parts.scheme == "http" and not is_loopback_host(host):
        msg = (
            f"invalid {option} {value!r}: plain http is allowed only for loopback addresses "
            "(127.0.0.1, ::1, localhost); use https for any other host"
        )
        raise InputError(msg)
    if parts.query or parts.fragment:
        msg = f"invalid {option} {value!r}: remove the query string and fragment"
        raise InputError(msg)
    return value.strip().rstrip("/")


def resolve_endpoints(region: str | None, api_url: str | None, login_url: str | None) -> Endpoints:
    """Derive the API and login URLs from a region name, or take the overrides."""
    api = validate_base_url(api_url, "--api-url") if api_url else None
    login = validate_base_url(login_url, "--login-url") if login_url else None
    if api is None:
        if not region:
            msg = (
                f"missing region: set {ENV_REGION} (for example us-east-1) "
                "or pass --region or --api-url"
            )
            raise InputError(msg)
        host = REGION_API_HOSTS.get(region.strip().lower())
        if host is None:
            valid = ", ".join(REGION_API_HOSTS)
            msg = f"unknown region {region!r}; valid regions: {valid}"
            raise InputError(msg)
        api = f"https://{host}"
    if login is None:
        login = derive_login_url(api)
    return Endpoints(api_url=api, login_url=login)


def derive_login_url(api_url: str) -> str:
    """Replace a leading ``api.`` in the host with ``login.``, as the official SDKs do.

    A URL whose host does not start with ``api.`` (a loopback simulator) is returned unchanged.
    """
    parts = urlsplit(api_url)
    host = parts.netloc
    if host.startswith("api."):
        host = "login." + host[len("api.") :]
    return f"{parts.scheme}://{host}{parts.path}".rstrip("/")


def read_credentials(environ: Mapping[str, str]) -> Credentials:
    """Read the OAuth client id and secret; name every missing or empty variable."""
    client_id = environ.get(ENV_CLIENT_ID, "").strip()
    client_secret = environ.get(ENV_CLIENT_SECRET, "").strip()
    missing = [
        name
        for name, value in ((ENV_CLIENT_ID, client_id), (ENV_CLIENT_SECRET, client_secret))
        if not value
    ]
    if missing:
        msg = (
            f"missing or empty credentials: set {' and '.join(missing)} "
            "in the environment or in a .env file"
        )
        raise InputError(msg)
    return Credentials(client_id=client_id, client_secret=client_secret)


def read_credentials_file(path: Path) -> tuple[Credentials, ...]:
    """Read several OAuth clients of one org from a JSON list of ``{clientId, clientSecret}``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        msg = f"cannot read --credentials {str(path)!r}: {exc.strerror}; give a readable JSON file"
        raise InputError(msg) from exc
    try:
        entries = orjson.loads(raw)
    except orjson.JSONDecodeError:
        msg = (
            f"--credentials {str(path)!r} is not valid JSON; write a list such as "
            '[{"clientId": "...", "clientSecret": "..."}]'
        )
        raise InputError(msg) from None
    if not isinstance(entries, list) or not entries:
        msg = f"--credentials {str(path)!r} must hold a non-empty JSON list of clients"
        raise InputError(msg)
    clients: list[Credentials] = []
    for number, entry in enumerate(entries, start=1):
        client_id = entry.get("clientId") if isinstance(entry, dict) else None
        secret = entry.get("clientSecret") if isinstance(entry, dict) else None
        if (
            not isinstance(client_id, str)
            or not client_id.strip()
            or not isinstance(secret, str)
            or not secret.strip()
        ):
            msg = f"--credentials {str(path)!r}: entry {number} needs a non-empty clientId and clientSecret"
            raise InputError(msg)
        clients.append(Credentials(client_id.strip(), secret.strip()))
    ids = [client.client_id for client in clients]
    duplicates = sorted({client_id for client_id in ids if ids.count(client_id) > 1})
    if duplicates:
        msg = (
            f"--credentials {str(path)!r} lists client {duplicates[0]!r} twice; the rate limit is per "
            "token, so each entry must be a different OAuth client"
        )
        raise InputError(msg)
    return tuple(clients)


def normalize_statuses(values: list[str] | None) -> frozenset[str]:
    """Map ``--status`` values to the API's spelling, case-insensitively."""
    if not values:
        return frozenset({"Finished"})
    by_lower = {status.lower(): status for status in SURVEY_STATUSES}
    result = set()
    for value in values:
        for part in value.split(","):
            status = by_lower.get(part.strip().lower())
            if status is None:
                msg = f"invalid --status {part!r}; valid statuses: {', '.join(SURVEY_STATUSES)}"
                raise InputError(msg)
            result.add(status)
    return frozenset(result)


def validate_detail(value: str) -> str:
    """Reject an unknown ``--detail`` level."""
    level = value.strip().lower()
    if level not in DETAIL_LEVELS:
        msg = f"invalid --detail {value!r}; valid levels: {', '.join(DETAIL_LEVELS)}"
        raise InputError(msg)
    return level


def validate_compress(value: str) -> str:
    """Reject an unknown ``--compress`` value."""
    compress = value.strip().lower()
    if compress not in COMPRESSIONS:
        msg = f"invalid --compress {value!r}; valid values: {', '.join(COMPRESSIONS)}"
        raise InputError(msg)
    return compress


def validate_source(value: str) -> str:
    """Reject an unknown ``--source``."""
    source = value.strip().lower()
    if source not in ("auto", "query", "jobs"):
        msg = f"invalid --source {value!r}; valid sources: auto, query, jobs"
        raise InputError(msg)
    return source


def validate_by(value: str, lookback_days: int) -> tuple[str, int]:
    """Check ``--by`` and ``--lookback``."""
    by = value.strip().lower()
    if by not in ("start", "completed"):
        msg = f"invalid --by {value!r}; valid values: start (conversation start), completed (survey completion)"
        raise InputError(msg)
    if not 0 <= lookback_days <= 366:
        msg = f"invalid --lookback {lookback_days}: give a whole number of days from 0 to 366"
        raise InputError(msg)
    return by, lookback_days


def validate_concurrency(value: int) -> int:
    """Reject a worker count outside 1..MAX_CONCURRENCY."""
    if not 1 <= value <= MAX_CONCURRENCY:
        msg = f"invalid --concurrency {value}: give a whole number from 1 to {MAX_CONCURRENCY}"
        raise InputError(msg)
    return value


def validate_rate(value: float) -> float:
    """Reject a request rate outside 1..MAX_RATE_PER_MINUTE."""
    if not 1 <= value <= MAX_RATE_PER_MINUTE:
        msg = (
            f"invalid --rate {value:g}: give requests per minute from 1 to {MAX_RATE_PER_MINUTE} "
            f"(the documented default is {DEFAULT_RATE_PER_MINUTE})"
        )
        raise InputError(msg)
    return value


def environment_with_dotenv(dotenv_path: Path | None, environ: Mapping[str, str]) -> dict[str, str]:
    """Merge a ``.env`` file under the environment; the environment wins.

    A missing default ``.env`` is fine; a named file that is missing or a line that does not
    parse is an :class:`InputError`.
    """
    from dotenv import dotenv_values

    merged: dict[str, str] = {}
    path = dotenv_path if dotenv_path is not None else Path(".env")
    if dotenv_path is not None and not path.is_file():
        msg = f"--env-file {str(path)!r} not found; give the path of an existing .env file"
        raise InputError(msg)
    if path.is_file():
        bad_lines = _unparsable_dotenv_lines(path)
        if bad_lines:
            msg = (
                f"malformed .env file {str(path)!r}: line {bad_lines[0]} is not KEY=VALUE; "
                "fix or remove that line"
            )
            raise InputError(msg)
        for key, value in dotenv_values(path).items():
            if value is not None:
                merged[key] = value
    merged.update(environ)
    return merged


def _unparsable_dotenv_lines(path: Path) -> list[int]:
    """Return the 1-based numbers of lines python-dotenv cannot parse."""
    from dotenv.parser import parse_stream

    with path.open(encoding="utf-8") as stream:
        return [binding.original.line for binding in parse_stream(stream) if binding.error]


def current_time() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)
