"""The output record: API JSON in, one flat-typed NDJSON record out.

Every field is always present, null when unknown, and always of one type, so Spark and DuckDB
infer the same schema from any file of any run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from harvester.settings import SURVEY_STATUSES, format_timestamp

SCHEMA_VERSION = 1

_STATUS_SPELLING = {status.lower(): status for status in SURVEY_STATUSES}

Json = dict[str, Any]


def normalize_timestamp(value: object) -> str | None:
    """Return an API timestamp as ISO-8601 UTC with milliseconds, or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return format_timestamp(moment)


def parse_timestamp(value: str) -> datetime:
    """Parse an API timestamp such as ``2025-03-04T08:15:02.000Z`` into an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def normalize_survey_status(value: object) -> str | None:
    """Spell a survey status as the Quality API does (``Finished``), whatever its case."""
    if not isinstance(value, str):
        return None
    return _STATUS_SPELLING.get(value.lower(), value)


def normalize_evaluation_status(value: object) -> str | None:
    """Spell an evaluation status as the Quality API does (``FINISHED``).

    Analytics writes ``InReview`` where the Quality API writes ``INREVIEW``.
    """
    return value.upper() if isinstance(value, str) else None


def _int(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def reference(entity_id: object, name: object) -> Json:
    """Build an ``{id, name}`` object."""
    return {"id": _str(entity_id), "name": _str(name)}


def form_texts(form: Mapping[str, Any] | None) -> tuple[dict[str, Json], dict[str, str]]:
    """Index a survey form's questions by id, and its answer options' texts by id."""
    questions: dict[str, Json] = {}
    options: dict[str, str] = {}
    if not form:
        return questions, options
    for group in form.get("questionGroups") or []:
        for question in group.get("questions") or []:
            question_id = question.get("id")
            if isinstance(question_id, str):
                questions[question_id] = question
            for option in question.get("answerOptions") or []:
                if isinstance(option.get("id"), str) and isinstance(option.get("text"), str):
                    options[option["id"]] = option["text"]
    return questions, options


def survey_answers(answers: Mapping[str, Any] | None, form: Mapping[str, Any] | None) -> list[Json]:
    """Flatten a ``SurveyScoringSet`` into one entry per question, with its text and answer text."""
    if not answers:
        return []
    questions, options = form_texts(form)
    flat: list[Json] = []
    for group in answers.get("questionGroupScores") or []:
        for score in group.get("questionScores") or []:
            question = questions.get(score.get("questionId") or "", {})
            answer_id = _str(score.get("answerId"))
            flat.append(
                {
                    "questionGroupId": _str(group.get("questionGroupId")),
                    "questionId": _str(score.get("questionId")),
                    "questionText": _str(question.get("text")),
                    "questionType": _str(question.get("type")),
                    "answerId": answer_id,
                    "answerText": options.get(answer_id) if answer_id else None,
                    "score": _int(score.get("score")),
                    "npsScore": _int(score.get("npsScore")),
                    "npsTextAnswer": _str(score.get("npsTextAnswer")),
                    "freeTextAnswer": _str(score.get("freeTextAnswer")),
                    "markedNA": _bool(score.get("markedNA")),
                }
            )
    return flat


def evaluation_entry(response: Mapping[str, Any], names: Mapping[str, str | None]) -> Json:
    """Build the record's entry for one evaluation read with the Quality API.

    ``names`` maps user ids to names, for users the response carries without a name.
    """
    form = response.get("evaluationForm") or {}
    evaluator = response.get("evaluator") or {}
    agent = response.get("agent") or {}
    answers = response.get("answers") or {}
    return {
        "evaluationId": _str(response.get("id")),
        "status": normalize_evaluation_status(response.get("status")),
        "form": reference(form.get("id"), form.get("name")),
        "evaluator": reference(
            evaluator.get("id"), evaluator.get("name") or names.get(evaluator.get("id") or "")
        ),
        "agent": reference(agent.get("id"), agent.get("name") or names.get(agent.get("id") or "")),
        "totalScore": _float(answers.get("totalScore")),
        "criticalScore": _float(answers.get("totalCriticalScore")),
        "nonCriticalScore": _float(answers.get("totalNonCriticalScore")),
        "anyFailedKillQuestions": _bool(answers.get("anyFailedKillQuestions")),
        "comments": _str(answers.get("comments")),
        "agentComments": _str(answers.get("agentComments")),
        "releaseDate": normalize_timestamp(response.get("releaseDate")),
        "submittedDate": normalize_timestamp(response.get("submittedDate")),
        "changedDate": normalize_timestamp(response.get("changedDate")),
        "version": _int(response.get("version")),
    }


def survey_record(
    *,
    conversation: Mapping[str, Any],
    listed: Mapping[str, Any],
    survey: Mapping[str, Any],
    form: Mapping[str, Any] | None,
    agent_name: str | None,
    queue_name: str | None,
    evaluations: list[Json],
    harvested_at: str,
    detail: str = "full",
) -> Json:
    """Build the output record of one survey response read with the Quality API.

    :param conversation: the conversation from the details query
    :param listed: the survey's entry in the conversation's ``surveys[]``
    :param survey: the ``Survey`` from ``GET /api/v2/quality/surveys/{surveyId}``
    :param form: the survey form with its questions, for question and answer texts
    """
    answers = survey.get("answers") or {}
    survey_form = survey.get("surveyForm") or {}
    agent = survey.get("agent") or {}
    queue = survey.get("queue") or {}
    agent_id = agent.get("id") or listed.get("userId")
    queue_id = queue.get("id") or listed.get("queueId")
    return {
        "surveyId": _str(survey.get("id") or listed.get("surveyId")),
        "conversationId": _str(conversation.get("conversationId")),
        "conversationStart": normalize_timestamp(conversation.get("conversationStart")),
        "completedDate": normalize_timestamp(
            survey.get("completedDate") or listed.get("surveyCompletedDate")
        ),
        "status": normalize_survey_status(survey.get("status") or listed.get("surveyStatus")),
        "surveyType": _str(survey.get("surveyType") or listed.get("surveyType")),
        "partial": _bool(listed.get("surveyPartialResponse")),
        "missingRequiredAnswer": _bool(survey.get("missingRequiredAnswer")),
        "surveyForm": {
            "id": _str(survey_form.get("id") or listed.get("surveyFormId")),
            "name": _str(survey_form.get("name") or listed.get("surveyFormName")),
            "contextId": _str(survey_form.get("contextId") or listed.get("surveyFormContextId")),
        },
        "agent": reference(agent_id, agent_name or agent.get("name")),
        "queue": reference(queue_id, queue_name),
        "npsScore": _int(answers.get("npsScore")),
        "totalScore": _float(answers.get("totalScore")),
        "answers": survey_answers(answers, form or survey_form),
        "evaluations": evaluations,
        "detail": detail,
        "harvestedAt": harvested_at,
    }


def summary_evaluation_entry(listed: Mapping[str, Any], names: Mapping[str, str | None]) -> Json:
    """Build an evaluation entry from the conversation's ``evaluations[]`` in analytics.

    Analytics carries ids, status, form and total scores; the fields only the Quality API
    returns are null.
    """
    evaluator_id = _str(listed.get("evaluatorId"))
    agent_id = _str(listed.get("userId"))
    return {
        "evaluationId": _str(listed.get("evaluationId")),
        "status": normalize_evaluation_status(listed.get("evaluationStatus")),
        "form": reference(listed.get("formId"), listed.get("formName")),
        "evaluator": reference(evaluator_id, names.get(evaluator_id or "")),
        "agent": reference(agent_id, names.get(agent_id or "")),
        "totalScore": _float(listed.get("oTotalScore")),
        "criticalScore": _float(listed.get("oTotalCriticalScore")),
        "nonCriticalScore": None,
        "anyFailedKillQuestions": None,
        "comments": None,
        "agentComments": None,
        "releaseDate": None,
        "submittedDate": None,
        "changedDate": None,
        "version": None,
    }


def summary_record(
    *,
    conversation: Mapping[str, Any],
    listed: Mapping[str, Any],
    agent_name: str | None,
    queue_name: str | None,
    evaluations: list[Json],
    harvested_at: str,
) -> Json:
    """Build a record from analytics alone: no answers, and null where only the survey GET has data."""
    return {
        "surveyId": _str(listed.get("surveyId")),
        "conversationId": _str(conversation.get("conversationId")),
        "conversationStart": normalize_timestamp(conversation.get("conversationStart")),
        "completedDate": normalize_timestamp(listed.get("surveyCompletedDate")),
        "status": normalize_survey_status(listed.get("surveyStatus")),
        "surveyType": _str(listed.get("surveyType")),
        "partial": _bool(listed.get("surveyPartialResponse")),
        "missingRequiredAnswer": None,
        "surveyForm": {
            "id": _str(listed.get("surveyFormId")),
            "name": _str(listed.get("surveyFormName")),
            "contextId": _str(listed.get("surveyFormContextId")),
        },
        "agent": reference(listed.get("userId"), agent_name),
        "queue": reference(listed.get("queueId"), queue_name),
        "npsScore": _int(listed.get("surveyPromoterScore")),
        "totalScore": _float(listed.get("oSurveyTotalScore")),
        "answers": None,
        "evaluations": evaluations,
        "detail": "summary",
        "harvestedAt": harvested_at,
    }


def error_record(
    *,
    kind: str,
    entity_id: str,
    conversation: Mapping[str, Any],
    survey_id: str | None,
    status: int | None,
    code: str | None,
    reason: str,
    correlation_id: str | None,
    harvested_at: str,
) -> Json:
    """Build an error line for a survey or evaluation that could not be read."""
    return {
        "kind": kind,
        "id": entity_id,
        "surveyId": survey_id,
        "conversationId": _str(conversation.get("conversationId")),
        "conversationStart": normalize_timestamp(conversation.get("conversationStart")),
        "status": status,
        "code": code,
        "reason": reason,
        "correlationId": correlation_id,
        "harvestedAt": harvested_at,
    }
