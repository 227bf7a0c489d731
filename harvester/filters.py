"""Export filters: queues, survey forms, agents, survey types and media types.

Each filter takes ids or names; names are resolved once at the start of a run, and a name that
matches nothing or more than one entity is an input error. Survey-level filters become
``surveyFilters`` predicates of the details query and are applied again to each listed survey,
because a conversation that matches can also carry surveys that do not. The media type is a
segment dimension, so it becomes a ``segmentFilters`` predicate.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from harvester.errors import InputError
from harvester.http import ApiClient
from harvester.settings import FilterSpec

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
NAME_PAGE_SIZE = 100


def is_id(value: str) -> bool:
    """Return whether ``value`` looks like a Genesys id (a UUID) rather than a name."""
    return bool(_UUID.match(value.strip()))


@dataclasses.dataclass(frozen=True, slots=True)
class ResolvedFilters:
    """Filters as ids, ready for the details query and for checking each listed survey."""

    queue_ids: frozenset[str] = frozenset()
    form_ids: frozenset[str] = frozenset()
    agent_ids: frozenset[str] = frozenset()
    survey_types: frozenset[str] = frozenset()
    media_types: frozenset[str] = frozenset()

    def survey_clauses(self) -> list[dict[str, Any]]:
        """Return one ``or`` clause per survey-level filter, for the query's ``surveyFilters``."""
        clauses = []
        for dimension, values in (
            ("queueId", self.queue_ids),
            ("surveyFormContextId", self.form_ids),
            ("userId", self.agent_ids),
            ("surveyType", self.survey_types),
        ):
            if values:
                clauses.append(
                    {
                        "type": "or",
                        "predicates": [
                            {
                                "type": "dimension",
                                "dimension": dimension,
                                "operator": "matches",
                                "value": value,
                            }
                            for value in sorted(values)
                        ],
                    }
                )
        return clauses

    def segment_filters(self) -> list[dict[str, Any]]:
        """Return the query's ``segmentFilters`` for the media types, or an empty list."""
        if not self.media_types:
            return []
        predicates = [
            {"type": "dimension", "dimension": "mediaType", "operator": "matches", "value": value}
            for value in sorted(self.media_types)
        ]
        return [{"type": "or", "predicates": predicates}]

    def accepts(self, listed: Mapping[str, Any]) -> bool:
        """Return whether a survey listed by analytics passes the survey-level filters."""
        if self.queue_ids and listed.get("queueId") not in self.queue_ids:
            return False
        if self.form_ids and listed.get("surveyFormContextId") not in self.form_ids:
            return False
        if self.agent_ids and listed.get("userId") not in self.agent_ids:
            return False
        return not (self.survey_types and listed.get("surveyType") not in self.survey_types)


async def resolve_filters(client: ApiClient, spec: FilterSpec) -> ResolvedFilters:
    """Turn names into ids with one lookup per name; reject unknown and ambiguous names."""
    queue_ids = {value for value in spec.queues if is_id(value)}
    for name in (value for value in spec.queues if not is_id(value)):
        queue_ids.add(
            await _one_by_name(
                client, "/api/v2/routing/queues", "queues", name, "--queue", [("name", name)]
            )
        )

    agent_ids = {value for value in spec.agents if is_id(value)}
    for name in (value for value in spec.agents if not is_id(value)):
        agent_ids.add(
            await _one_by_name(
                client, "/api/v2/users", "users", name, "--agent", [("state", "any")]
            )
        )

    form_ids: set[str] = set()
    for value in spec.survey_forms:
        form_ids.add(await _survey_form_context(client, value))

    return ResolvedFilters(
        queue_ids=frozenset(queue_ids),
        form_ids=frozenset(form_ids),
        agent_ids=frozenset(agent_ids),
        survey_types=frozenset(spec.survey_types),
        media_types=frozenset(spec.media_types),
    )


async def _survey_form_context(client: ApiClient, value: str) -> str:
    """Return the context id of a survey form given by id, context id or name.

    Analytics files surveys under the form's context id, which stays the same across the
    form's published versions, so the filter uses it.
    """
    if is_id(value):
        forms = await _list_all(client, "/api/v2/quality/forms/surveys", "survey_form", [])
        for form in forms:
            if value in (form.get("id"), form.get("contextId")):
                return str(form.get("contextId") or form.get("id"))
        # An id not among the listed forms is taken as a context id, as analytics stores it.
        return value
    forms = await _list_all(
        client, "/api/v2/quality/forms/surveys", "survey_form", [("name", value)]
    )
    # Published versions of one form share its name and context id: count each context once.
    by_context = {str(form.get("contextId") or form.get("id")): form for form in forms}
    return _exactly_one(list(by_context.values()), value, "--survey-form", key="contextId")


async def _one_by_name(
    client: ApiClient,
    path: str,
    endpoint: str,
    name: str,
    option: str,
    extra: list[tuple[str, str]],
) -> str:
    entities = await _list_all(client, path, endpoint, extra)
    return _exactly_one(entities, name, option, key="id")


def _exactly_one(entities: list[dict[str, Any]], name: str, option: str, *, key: str) -> str:
    matches = [
        entity for entity in entities if str(entity.get("name", "")).casefold() == name.casefold()
    ]
    if not matches:
        msg = f"{option} {name!r} not found; check the spelling or give its id"
        raise InputError(msg)
    if len(matches) > 1:
        ids = ", ".join(str(entity.get("id")) for entity in matches)
        msg = f"{option} {name!r} is ambiguous: {len(matches)} match ({ids}); give one of these ids"
        raise InputError(msg)
    return str(matches[0].get(key) or matches[0]["id"])


async def _list_all(
    client: ApiClient, path: str, endpoint: str, extra: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    page_number = 1
    while True:
        params = [("pageSize", str(NAME_PAGE_SIZE)), ("pageNumber", str(page_number)), *extra]
        listing = await client.get(path, endpoint, params)
        page = listing.get("entities") or []
        entities.extend(page)
        if not page or not listing.get("nextUri"):
            return entities
        page_number += 1
