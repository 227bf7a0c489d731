"""Reading what a conversation's surveys need: the surveys, forms, evaluations and names.

Names of users and queues are looked up in batches of up to 100 ids and cached for the run;
survey forms are cached per form id. Each evaluation is read once per conversation, however
many of the conversation's surveys refer to it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from harvester.errors import SkippableError
from harvester.http import ApiClient
from harvester.records import (
    Json,
    error_record,
    evaluation_entry,
    summary_evaluation_entry,
    summary_record,
    survey_record,
)

logger = logging.getLogger(__name__)

#: Ids per users or queues request. No maximum is documented; 100 is the largest page size
#: known to be honoured, and a lookup pages anyway if fewer entities come back.
NAME_BATCH_SIZE = 100
#: How long a name lookup waits for more ids to join its batch, in seconds.
NAME_BATCH_LINGER = 0.02

EVALUATION_EXPAND = "agent,evaluator,evaluationForm"


class BatchLookup:
    """Resolve ids to names with one request per batch of ids, caching every result.

    Callers ask for one id each; ids asked for within ``linger`` seconds share a request.
    An id the API does not return resolves to ``None``.
    """

    def __init__(
        self,
        fetch: Callable[[list[str]], Awaitable[dict[str, str]]],
        *,
        batch_size: int = NAME_BATCH_SIZE,
        linger: float = NAME_BATCH_LINGER,
    ) -> None:
        self._fetch = fetch
        self._batch_size = batch_size
        self._linger = linger
        self._names: dict[str, str | None] = {}
        self._waiting: dict[str, asyncio.Future[str | None]] = {}
        self._in_flight: dict[str, asyncio.Future[str | None]] = {}
        self._flush_due = False

    async def name(self, entity_id: str | None) -> str | None:
        """Return the name of ``entity_id``, or ``None`` when it is unknown."""
        if not entity_id:
            return None
        if entity_id in self._names:
            return self._names[entity_id]
        future = self._waiting.get(entity_id) or self._in_flight.get(entity_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._waiting[entity_id] = future
            if len(self._waiting) >= self._batch_size:
                await self._flush()
            elif not self._flush_due:
                self._flush_due = True
                await asyncio.sleep(self._linger)
                self._flush_due = False
                await self._flush()
        return await future

    async def prefetch(self, entity_ids: Iterable[str | None]) -> None:
        """Look up every id not known yet, in full batches, before any caller asks for it.

        Callers ask as their surveys complete, often one at a time, so the lookups they trigger
        seldom share a request; ids known ahead, such as those of a page of conversations,
        cost one request per ``batch_size`` ids instead.
        """
        unknown = [
            entity_id
            for entity_id in dict.fromkeys(entity_ids)
            if entity_id
            and entity_id not in self._names
            and entity_id not in self._waiting
            and entity_id not in self._in_flight
        ]
        loop = asyncio.get_running_loop()
        for start in range(0, len(unknown), self._batch_size):
            chunk = unknown[start : start + self._batch_size]
            await self._fetch_batch({entity_id: loop.create_future() for entity_id in chunk})

    async def _flush(self) -> None:
        batch = self._waiting
        if not batch:
            return
        self._waiting = {}
        await self._fetch_batch(batch)

    async def _fetch_batch(self, batch: dict[str, asyncio.Future[str | None]]) -> None:
        self._in_flight.update(batch)
        try:
            found = await self._fetch(list(batch))
        except BaseException as exc:
            # The caller that flushed re-raises; the others see the failure through their future.
            for future in batch.values():
                _fail(future, exc)
            raise
        finally:
            for entity_id in batch:
                self._in_flight.pop(entity_id, None)
        for entity_id, future in batch.items():
            name = found.get(entity_id)
            self._names[entity_id] = name
            if not future.done():
                future.set_result(name)


class FormCache:
    """Survey forms by id, each read at most once."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self._forms: dict[str, asyncio.Future[Json | None]] = {}

    def remember(self, form: Mapping[str, Any]) -> None:
        """Cache a form that arrived embedded in a survey with its questions."""
        form_id = form.get("id")
        if isinstance(form_id, str) and form_id not in self._forms and form.get("questionGroups"):
            future: asyncio.Future[Json | None] = asyncio.get_running_loop().create_future()
            future.set_result(dict(form))
            self._forms[form_id] = future

    async def get(self, form_id: str) -> Json | None:
        """Return the form with its questions; ``None`` when it no longer exists."""
        future = self._forms.get(form_id)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._forms[form_id] = future
            try:
                form = await self._client.get(
                    f"/api/v2/quality/forms/surveys/{form_id}", "survey_form"
                )
            except SkippableError:
                logger.warning("survey form %s not found; question texts stay empty", form_id)
                form = None
            except BaseException as exc:
                del self._forms[form_id]
                _fail(future, exc)
                raise
            future.set_result(form)
        return await future


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    """Pass a failure to the tasks awaiting ``future`` without an "exception never retrieved" warning."""
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
        return
    future.set_exception(exc)
    future.exception()


async def fetch_user_names(client: ApiClient, ids: list[str]) -> dict[str, str]:
    """Look up users by id, including users who left (``state=any``)."""
    return await _fetch_names(client, "/api/v2/users", "users", ids, [("state", "any")])


async def fetch_queue_names(client: ApiClient, ids: list[str]) -> dict[str, str]:
    """Look up queues by id."""
    return await _fetch_names(client, "/api/v2/routing/queues", "queues", ids, [])


async def _fetch_names(
    client: ApiClient, path: str, endpoint: str, ids: list[str], extra: list[tuple[str, str]]
) -> dict[str, str]:
    names: dict[str, str] = {}
    page_number = 1
    while True:
        params = [
            ("id", ",".join(ids)),
            ("pageSize", str(len(ids))),
            ("pageNumber", str(page_number)),
            *extra,
        ]
        listing = await client.get(path, endpoint, params)
        entities = listing.get("entities") or []
        for entity in entities:
            if isinstance(entity.get("id"), str) and isinstance(entity.get("name"), str):
                names[entity["id"]] = entity["name"]
        # Some list endpoints clamp pageSize without saying so: follow nextUri until all are in.
        if len(names) >= len(ids) or not entities or not listing.get("nextUri"):
            return names
        page_number += 1


@dataclasses.dataclass(frozen=True, slots=True)
class OutputLine:
    """A record or an error line produced for one survey of a conversation."""

    kind: str  # "survey" or "error"
    survey_id: str
    record: Json


class ConversationResolver:
    """Turn a conversation and its selected surveys into output records and error lines."""

    def __init__(
        self,
        client: ApiClient,
        clock: Callable[[], str],
        detail: str = "full",
        *,
        by_conversation: bool = False,
    ) -> None:
        self._client = client
        self._clock = clock
        self._detail = detail
        #: Read surveys with one request per conversation instead of one per survey.
        self._by_conversation = by_conversation
        self.users = BatchLookup(lambda ids: fetch_user_names(client, ids))
        self.queues = BatchLookup(lambda ids: fetch_queue_names(client, ids))
        self.forms = FormCache(client)

    async def resolve(
        self, conversation: Mapping[str, Any], surveys: list[Mapping[str, Any]]
    ) -> list[OutputLine]:
        """Read every selected survey of ``conversation`` and its evaluations.

        The detail level decides what is read: ``summary`` reads nothing but names, ``answers``
        reads each survey, and ``full`` also reads each evaluation.
        """
        if self._detail == "summary":
            return await self._summaries(conversation, surveys)
        evaluations_task = asyncio.ensure_future(
            self._evaluations(conversation)
            if self._detail == "full"
            else self._summary_evaluations(conversation)
        )
        try:
            if self._by_conversation:
                survey_results = await self._conversation_surveys(conversation, surveys)
            else:
                survey_results = await asyncio.gather(
                    *(self._survey(conversation, listed) for listed in surveys)
                )
            evaluations, evaluation_errors = await evaluations_task
        finally:
            if not evaluations_task.done():
                evaluations_task.cancel()

        lines: list[OutputLine] = []
        first_survey_id = str(surveys[0]["surveyId"])
        for error in evaluation_errors:
            lines.append(OutputLine("error", first_survey_id, error))
        for listed, result in zip(surveys, survey_results, strict=True):
            survey_id = str(listed["surveyId"])
            if isinstance(result, SkippableError):
                lines.append(
                    OutputLine(
                        "error",
                        survey_id,
                        self._error("survey", survey_id, conversation, survey_id, result),
                    )
                )
                continue
            survey, form = result
            agent_id = (survey.get("agent") or {}).get("id") or listed.get("userId")
            queue_id = (survey.get("queue") or {}).get("id") or listed.get("queueId")
            agent_name, queue_name = await asyncio.gather(
                self.users.name(agent_id), self.queues.name(queue_id)
            )
            record = survey_record(
                conversation=conversation,
                listed=listed,
                survey=survey,
                form=form,
                agent_name=agent_name,
                queue_name=queue_name,
                evaluations=evaluations,
                harvested_at=self._clock(),
                detail=self._detail,
            )
            lines.append(OutputLine("survey", survey_id, record))
        return lines

    async def prefetch_names(
        self, conversations: Iterable[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]
    ) -> None:
        """Look up the agents, evaluators and queues of a page of conversations in batches.

        ``conversations`` pairs each conversation with the surveys of it that will be exported.
        The full level reads evaluations with their users' names, so it skips evaluators.
        """
        users: list[str | None] = []
        queues: list[str | None] = []
        for conversation, surveys in conversations:
            for listed in surveys:
                users.append(listed.get("userId"))
                queues.append(listed.get("queueId"))
            if self._detail != "full":
                for evaluation in conversation.get("evaluations") or []:
                    users.append(evaluation.get("evaluatorId"))
                    users.append(evaluation.get("userId"))
        await asyncio.gather(self.users.prefetch(users), self.queues.prefetch(queues))

    async def _summaries(
        self, conversation: Mapping[str, Any], surveys: list[Mapping[str, Any]]
    ) -> list[OutputLine]:
        evaluations, _ = await self._summary_evaluations(conversation)
        lines = []
        for listed in surveys:
            agent_name, queue_name = await asyncio.gather(
                self.users.name(listed.get("userId")), self.queues.name(listed.get("queueId"))
            )
            record = summary_record(
                conversation=conversation,
                listed=listed,
                agent_name=agent_name,
                queue_name=queue_name,
                evaluations=evaluations,
                harvested_at=self._clock(),
            )
            lines.append(OutputLine("survey", str(listed["surveyId"]), record))
        return lines

    async def _summary_evaluations(
        self, conversation: Mapping[str, Any]
    ) -> tuple[list[Json], list[Json]]:
        entries = []
        seen: set[str] = set()
        for listed in conversation.get("evaluations") or []:
            evaluation_id = listed.get("evaluationId")
            if not isinstance(evaluation_id, str) or evaluation_id in seen:
                continue
            seen.add(evaluation_id)
            names: dict[str, str | None] = {}
            for user_id in (listed.get("evaluatorId"), listed.get("userId")):
                if isinstance(user_id, str):
                    names[user_id] = await self.users.name(user_id)
            entries.append(summary_evaluation_entry(listed, names))
        return entries, []

    async def _conversation_surveys(
        self, conversation: Mapping[str, Any], surveys: list[Mapping[str, Any]]
    ) -> list[tuple[Json, Json | None] | SkippableError]:
        """Read the conversation's surveys with one request and match them to the listed ones."""
        conversation_id = conversation["conversationId"]
        path = f"/api/v2/quality/conversations/{conversation_id}/surveys"
        try:
            found: list[Json] = await self._client.get(path, "conversation_surveys") or []
        except SkippableError as exc:
            logger.warning("surveys of conversation %s not readable: %s", conversation_id, exc)
            return [exc for _ in surveys]
        by_id = {str(survey.get("id")): survey for survey in found}
        results: list[tuple[Json, Json | None] | SkippableError] = []
        for listed in surveys:
            survey = by_id.get(str(listed["surveyId"]))
            if survey is None:
                msg = (
                    f"GET {path} did not return survey {listed['surveyId']}, which analytics lists"
                )
                logger.warning("%s", msg)
                results.append(
                    SkippableError(
                        msg, status=404, code="not.found", endpoint="conversation_surveys"
                    )
                )
            else:
                results.append(await self._with_form(survey, listed))
        return results

    async def _survey(
        self, conversation: Mapping[str, Any], listed: Mapping[str, Any]
    ) -> tuple[Json, Json | None] | SkippableError:
        survey_id = listed["surveyId"]
        try:
            survey: Json = await self._client.get(f"/api/v2/quality/surveys/{survey_id}", "survey")
        except SkippableError as exc:
            logger.warning(
                "survey %s of conversation %s not readable: %s",
                survey_id,
                conversation.get("conversationId"),
                exc,
            )
            return exc
        return await self._with_form(survey, listed)

    async def _with_form(self, survey: Json, listed: Mapping[str, Any]) -> tuple[Json, Json | None]:
        """Pair a survey with its form: the embedded one when it has questions, else the cached one."""
        embedded = survey.get("surveyForm") or {}
        if embedded.get("questionGroups"):
            self.forms.remember(embedded)
            return survey, embedded
        form_id = embedded.get("id") or listed.get("surveyFormId")
        form = await self.forms.get(form_id) if isinstance(form_id, str) else None
        return survey, form

    async def _evaluations(self, conversation: Mapping[str, Any]) -> tuple[list[Json], list[Json]]:
        conversation_id = conversation["conversationId"]
        listed = [
            item for item in conversation.get("evaluations") or [] if item.get("evaluationId")
        ]
        unique = list(dict.fromkeys(str(item["evaluationId"]) for item in listed))
        results = await asyncio.gather(
            *(self._evaluation(conversation_id, evaluation_id) for evaluation_id in unique)
        )
        entries: list[Json] = []
        errors: list[Json] = []
        for evaluation_id, result in zip(unique, results, strict=True):
            if isinstance(result, SkippableError):
                errors.append(self._error("evaluation", evaluation_id, conversation, None, result))
                continue
            names = await self._evaluation_user_names(result)
            entries.append(evaluation_entry(result, names))
        return entries, errors

    async def _evaluation(self, conversation_id: str, evaluation_id: str) -> Json | SkippableError:
        path = f"/api/v2/quality/conversations/{conversation_id}/evaluations/{evaluation_id}"
        try:
            response: Json = await self._client.get(
                path, "evaluation", [("expand", EVALUATION_EXPAND)]
            )
        except SkippableError as exc:
            logger.warning(
                "evaluation %s of conversation %s not readable: %s",
                evaluation_id,
                conversation_id,
                exc,
            )
            return exc
        return response

    async def _evaluation_user_names(self, response: Mapping[str, Any]) -> dict[str, str | None]:
        names: dict[str, str | None] = {}
        for role in ("evaluator", "agent"):
            user = response.get(role) or {}
            user_id = user.get("id")
            if isinstance(user_id, str) and not user.get("name"):
                names[user_id] = await self.users.name(user_id)
        return names

    def _error(
        self,
        kind: str,
        entity_id: str,
        conversation: Mapping[str, Any],
        survey_id: str | None,
        exc: SkippableError,
    ) -> Json:
        return error_record(
            kind=kind,
            entity_id=entity_id,
            conversation=conversation,
            survey_id=survey_id,
            status=exc.status,
            code=exc.code,
            reason=exc.message,
            correlation_id=exc.correlation_id,
            harvested_at=self._clock(),
        )
