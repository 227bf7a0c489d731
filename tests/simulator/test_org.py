"""The synthetic org: determinism, laziness, edge-case content and ground truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from harvester.simulator import SimConfig
from harvester.simulator.ids import IdCodec, IdKind
from harvester.simulator.org import Org, day_number

START = datetime(2025, 3, 1, tzinfo=UTC)


def test_same_seed_same_org() -> None:
    """Two orgs with one seed agree on every survey; another seed differs."""
    first = Org(SimConfig(seed=3, surveys_per_day=30))
    second = Org(SimConfig(seed=3, surveys_per_day=30))
    other = Org(SimConfig(seed=4, surveys_per_day=30))
    window = (START, START + timedelta(days=3))
    statuses = frozenset({"Finished", "Expired"})
    assert first.expected_surveys(*window, statuses) == second.expected_surveys(*window, statuses)
    assert first.expected_surveys(*window) != other.expected_surveys(*window)


def test_days_do_not_depend_on_generation_order() -> None:
    """A day generated alone equals the same day generated after others."""
    lone = Org(SimConfig(seed=5, surveys_per_day=20))
    busy = Org(SimConfig(seed=5, surveys_per_day=20))
    target = day_number(date(2025, 5, 20))
    for day in range(target - 5, target):
        busy.conversations(day)
    assert lone.conversations(target) == busy.conversations(target)


def test_day_cache_stays_small() -> None:
    """Generating many days keeps at most day_cache_size of them in memory."""
    org = Org(SimConfig(surveys_per_day=10, day_cache_size=4))
    first = day_number(date(2025, 2, 1))
    for day in range(first, first + 30):
        org.conversations(day)
    assert len(org._cache) == 4
    list(org.iter_expected_surveys(START, START + timedelta(days=60)))
    assert len(org._cache) == 4


def test_surveys_per_day_is_the_mean() -> None:
    """Over 60 days the number of surveys per day is close to surveys_per_day."""
    org = Org(SimConfig(surveys_per_day=100))
    every = frozenset({"Pending", "Sent", "InProgress", "Finished", "OptOut", "Error", "Expired"})
    count = sum(1 for _ in org.iter_expected_surveys(START, START + timedelta(days=60), every))
    assert 90 <= count / 60 <= 110


def test_org_covers_hard_cases() -> None:
    """A month contains every status, partial and late surveys, double surveys, leavers and odd text."""
    org = Org(SimConfig(surveys_per_day=60, deleted_fraction=0.02))
    conversations = [
        conversation
        for day in org.day_range(date(2025, 3, 1), date(2025, 3, 31))
        for conversation in org.conversations(day)
    ]
    surveys = [survey for conversation in conversations for survey in conversation.surveys]

    assert set(Counter(survey.status for survey in surveys)) == {
        "Pending",
        "Sent",
        "InProgress",
        "Finished",
        "OptOut",
        "Error",
        "Expired",
    }
    assert any(survey.partial and survey.status == "InProgress" for survey in surveys)
    assert any(len(conversation.surveys) == 2 for conversation in conversations)
    assert any(not conversation.surveys for conversation in conversations)
    assert any(survey.deleted for survey in surveys)
    assert any(e.deleted for conversation in conversations for e in conversation.evaluations)

    late = [
        survey.completed - conversation.end
        for conversation in conversations
        for survey in conversation.surveys
        if survey.completed
    ]
    assert max(late) > timedelta(days=3)

    leavers = {user.id for user in org.agents if user.state != "active"}
    assert {conversation.agent_id for conversation in conversations} & leavers

    texts = [
        answer.free_text or answer.nps_text or ""
        for survey in surveys
        for answer in survey.answers or ()
    ]
    assert any(len(text) > 5000 for text in texts)
    assert any("\n" in text for text in texts)
    assert any("\\" in text for text in texts)
    assert any('"' in text for text in texts)
    assert any("😀" in text for text in texts)
    assert any("非常" in text for text in texts)
    assert any("خدمة" in text for text in texts)


def test_every_day_has_boundary_conversations() -> None:
    """Each day starts one conversation at 00:00:00.000 and one at 23:59:59.999."""
    org = Org(SimConfig(surveys_per_day=20))
    day = org.conversations(day_number(date(2025, 4, 9)))
    assert day[0].start == datetime(2025, 4, 9, tzinfo=UTC)
    assert day[-1].start == datetime(2025, 4, 9, 23, 59, 59, 999000, tzinfo=UTC)


def test_days_outside_range_are_empty() -> None:
    """Days before first_day or after last_day hold no conversations."""
    org = Org(SimConfig(first_day=date(2025, 1, 1), last_day=date(2025, 1, 31)))
    assert org.conversations(day_number(date(2024, 12, 31))) == ()
    assert org.conversations(day_number(date(2025, 2, 1))) == ()
    assert org.conversations(day_number(date(2025, 1, 31)))


def test_expected_surveys_window_is_exact() -> None:
    """Ground truth uses the exact start, not the start day: [start, end) by the millisecond."""
    org = Org(SimConfig(surveys_per_day=40))
    midnight = datetime(2025, 3, 2, tzinfo=UTC)
    every = frozenset({"Pending", "Sent", "InProgress", "Finished", "OptOut", "Error", "Expired"})
    before = org.expected_surveys(midnight - timedelta(hours=1), midnight, every)
    after = org.expected_surveys(midnight, midnight + timedelta(hours=1), every)
    assert all(item.conversation_start < midnight for item in before)
    assert all(midnight <= item.conversation_start for item in after)
    assert any(item.conversation_start == midnight for item in after)


def test_expected_survey_fields() -> None:
    """Ground truth fills names from the org and ids of readable and deleted evaluations."""
    org = Org(SimConfig(surveys_per_day=40, deleted_fraction=0.5))
    items = org.expected_surveys(START, START + timedelta(days=3))
    item = next(entry for entry in items if entry.evaluation_ids)
    agent = org.user(item.agent_id)
    queue = org.queue(item.queue_id)
    assert agent is not None and agent.name == item.agent_name
    assert queue is not None and queue.name == item.queue_name
    assert item.completed_date is not None and item.completed_date > item.conversation_start
    assert item.question_count > 0
    assert any(entry.deleted_evaluation_ids for entry in items)


def test_ids_round_trip_and_reject_strangers() -> None:
    """Ids decode to their place in the org; other seeds' ids and malformed strings do not."""
    codec = IdCodec(9)
    value = codec.encode(IdKind.EVALUATION, 20150, 77, 1)
    parts = codec.decode(value)
    assert parts is not None
    assert (parts.kind, parts.day, parts.index, parts.sub) == (IdKind.EVALUATION, 20150, 77, 1)
    assert IdCodec(10).decode(value) is None
    assert codec.decode("not-an-id") is None
    assert codec.decode(value[:-1] + ("0" if value[-1] != "0" else "1")) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"time_scale": 0},
        {"first_day": date(2026, 1, 1), "last_day": date(2025, 1, 1)},
        {"fault_rates": {"survey:explode": 0.1}},
        {"latency": {"nowhere": (0.1, 0.2)}},
    ],
    ids=["zero-time-scale", "reversed-days", "unknown-fault", "unknown-latency-endpoint"],
)
def test_config_rejects_invalid_values(overrides: dict[str, object]) -> None:
    """Invalid knobs raise ValueError when the config is built."""
    with pytest.raises(ValueError):
        SimConfig(**overrides)  # type: ignore[arg-type]
