"""Settings: regions, URL overrides, dates and credentials."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harvester.errors import InputError
from harvester.settings import (
    REGION_API_HOSTS,
    derive_login_url,
    format_timestamp,
    parse_moment,
    read_credentials,
    resolve_endpoints,
    validate_base_url,
)


def test_every_sdk_region_is_known() -> None:
    """All 18 regions of the official SDK map to an api. host."""
    assert len(REGION_API_HOSTS) == 18
    assert all(host.startswith("api.") for host in REGION_API_HOSTS.values())
    assert REGION_API_HOSTS["us-east-2"] == "api.use2.us-gov-pure.cloud"
    assert REGION_API_HOSTS["eusc-de-east-1"] == "api.edee1.eusc-pure.cloud"


@pytest.mark.parametrize(
    ("region", "api", "login"),
    [
        ("us-east-1", "https://api.mypurecloud.com", "https://login.mypurecloud.com"),
        ("eu-west-1", "https://api.mypurecloud.ie", "https://login.mypurecloud.ie"),
        ("ap-southeast-2", "https://api.mypurecloud.com.au", "https://login.mypurecloud.com.au"),
        ("us-west-2", "https://api.usw2.pure.cloud", "https://login.usw2.pure.cloud"),
    ],
)
def test_region_hosts(region: str, api: str, login: str) -> None:
    """A region resolves to its API host and the matching login host."""
    endpoints = resolve_endpoints(region, None, None)
    assert endpoints.api_url == api
    assert endpoints.login_url == login


def test_unknown_region_lists_valid_ones() -> None:
    """An unknown region is rejected with the list of valid regions."""
    with pytest.raises(InputError, match=r"unknown region 'mars-1'.*us-east-1.*ap-northeast-3"):
        resolve_endpoints("mars-1", None, None)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9000", "https://api.example.test"],
)
def test_allowed_override_urls(url: str) -> None:
    """https anywhere and http to loopback addresses are accepted."""
    assert validate_base_url(url, "--api-url") == url


@pytest.mark.parametrize("url", ["http://api.mypurecloud.com", "http://10.0.0.5:80", "ftp://127.0.0.1"])
def test_rejected_override_urls(url: str) -> None:
    """Plain http to a non-loopback host and other schemes are rejected, naming the value."""
    with pytest.raises(InputError, match="--api-url"):
        validate_base_url(url, "--api-url")


def test_loopback_login_url_unchanged() -> None:
    """A simulator URL without api. serves the token endpoint itself."""
    assert derive_login_url("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert derive_login_url("https://api.cac1.pure.cloud") == "https://login.cac1.pure.cloud"


def test_parse_moment_forms() -> None:
    """Dates are midnight UTC; times with offsets are converted to UTC."""
    assert parse_moment("2025-03-01", "--from") == datetime(2025, 3, 1, tzinfo=UTC)
    assert parse_moment("2025-03-01T10:00:00+02:00", "--from") == datetime(2025, 3, 1, 8, tzinfo=UTC)
    assert parse_moment("2025-03-01T10:00:00Z", "--from") == datetime(2025, 3, 1, 10, tzinfo=UTC)
    with pytest.raises(InputError, match="invalid --to 'yesterday'"):
        parse_moment("yesterday", "--to")


def test_timestamp_has_milliseconds() -> None:
    """Output timestamps are ISO-8601 UTC with exactly three decimals."""
    moment = datetime(2025, 3, 4, 8, 15, 2, 123456, tzinfo=UTC)
    assert format_timestamp(moment) == "2025-03-04T08:15:02.123Z"


def test_missing_credentials_named() -> None:
    """Both missing variables are named in one message."""
    with pytest.raises(InputError, match="GENESYS_CLOUD_CLIENT_ID and GENESYS_CLOUD_CLIENT_SECRET"):
        read_credentials({})
    with pytest.raises(InputError, match="GENESYS_CLOUD_CLIENT_SECRET"):
        read_credentials({"GENESYS_CLOUD_CLIENT_ID": "abc", "GENESYS_CLOUD_CLIENT_SECRET": "  "})


def test_secret_not_in_repr() -> None:
    """The client secret never shows in the credentials' repr."""
    credentials = read_credentials(
        {"GENESYS_CLOUD_CLIENT_ID": "abc", "GENESYS_CLOUD_CLIENT_SECRET": "s3cr3t-value"}
    )
    assert "s3cr3t-value" not in repr(credentials)
