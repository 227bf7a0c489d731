"""JSON documents of the synthetic org, shaped like the SDK models of the real API.

Keys with no value are left out, as the real API leaves out nulls.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from harvester.simulator.forms import FormDef, QuestionDef
from harvester.simulator.ids import IdKind
from harvester.simulator.org import (
    Org,
    QuestionAnswer,
    SimConversation,
    SimEvaluation,
    SimQueue,
    SimSurvey,
    SimUser,
    group_score,
)

Json = dict[str, object]

_EVALUATION_MEDIA = {"voice": "CALL", "email": "EMAIL", "message": "MESSAGE"}


def iso(moment: datetime) -> str:
    """Format a UTC datetime as ISO-8601 with milliseconds and ``Z``."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _drop_none(document: Json) -> Json:
    return {key: value for key, value in document.items() if value is not None}


def user_ref(user_id: str) -> Json:
    """Return an id-only user reference."""
    return {"id": user_id, "selfUri": f"/api/v2/users/{user_id}"}


def division_json(org: Org, division_id: str) -> Json:
    """Return a division reference with its name."""
    division = org.division(division_id)
    return {
        "id": division.id,
        "name": division.name,
        "selfUri": f"/api/v2/authorization/divisions/{division.id}",
    }


def user_json(org: Org, user: SimUser) -> Json:
    """Return a ``User``."""
    return {
        "id": user.id,
        "name": user.name,
        "division": division_json(org, user.division_id),
        "email": user.email,
        "state": user.state,
        "username": user.email,
        "version": 3 if user.state != "active" else 1,
        "selfUri": f"/api/v2/users/{user.id}",
    }


def queue_json(org: Org, queue: SimQueue) -> Json:
    """Return a ``Queue``."""
    return {
        "id": queue.id,
        "name": queue.name,
        "division": division_json(org, queue.division_id),
        "dateCreated": iso(queue.created),
        "dateModified": iso(queue.created + timedelta(days=30)),
        "memberCount": queue.member_count,
        "userMemberCount": queue.member_count,
        "joinedMemberCount": max(0, queue.member_count - 2),
        "scoringMethod": "TimestampAndPriority",
        "skillEvaluationMethod": "ALL",
        "autoAnswerOnly": False,
        "enableTranscription": False,
        "enableManualAssignment": False,
        "selfUri": f"/api/v2/routing/queues/{queue.id}",
    }


# Analytics.


def analytics_survey_json(conversation: SimConversation, survey: SimSurvey) -> Json:
    """Return an ``AnalyticsSurvey``."""
    return _drop_none(
        {
            "surveyId": survey.id,
            "surveyFormId": survey.form.id,
            "surveyFormContextId": survey.form.context_id,
            "surveyFormName": survey.form.name,
            "surveyStatus": survey.status,
            "surveyType": survey.survey_type,
            "surveyCompletedDate": iso(survey.completed) if survey.completed else None,
            "surveyPromoterScore": survey.nps_score,
            "surveyPartialResponse": survey.partial,
            "queueId": conversation.queue_id,
            "userId": conversation.agent_id,
            "eventTime": iso(survey.event_time),
            "oSurveyTotalScore": survey.total_score,
        }
    )


def analytics_evaluation_json(conversation: SimConversation, evaluation: SimEvaluation) -> Json:
    """Return an ``AnalyticsEvaluation``."""
    return _drop_none(
        {
            "evaluationId": evaluation.id,
            "evaluatorId": evaluation.evaluator_id,
            "userId": conversation.agent_id,
            "assigneeId": evaluation.evaluator_id,
            "assigneeApplicable": True,
            "contextId": evaluation.form.context_id,
            "formId": evaluation.form.id,
            "formName": evaluation.form.name,
            "evaluationStatus": evaluation.status,
            "released": evaluation.released,
            "rescored": evaluation.rescored,
            "deleted": evaluation.listed_as_deleted,
            "systemSubmitted": evaluation.system_submitted,
            "queueId": conversation.queue_id,
            "eventTime": iso(evaluation.event_time),
            "oTotalScore": None
            if evaluation.total_score is None
            else round(evaluation.total_score),
            "oTotalCriticalScore": (
                None if evaluation.critical_score is None else round(evaluation.critical_score)
            ),
        }
    )


def _session(org: Org, conversation: SimConversation, sub: int, segments: list[Json]) -> Json:
    return {
        "mediaType": conversation.media_type,
        "direction": conversation.direction,
        "sessionId": org.codec.encode(IdKind.SESSION, conversation.day, conversation.index, sub),
        "segments": segments,
    }


def _participant_id(org: Org, conversation: SimConversation, sub: int) -> str:
    return org.codec.encode(IdKind.PARTICIPANT, conversation.day, conversation.index, sub)


def analytics_conversation_json(
    org: Org, conversation: SimConversation, *, with_attributes: bool = False
) -> Json:
    """Return an ``AnalyticsConversationWithoutAttributes``, or an ``AnalyticsConversation``.

    The conversation has a customer, an ACD (queue) and an agent participant. With
    ``with_attributes``, as in job results, participants also carry ``attributes``.
    """
    start, end = conversation.start, conversation.end
    duration_ms = int((end - start).total_seconds() * 1000)
    wait_ms = 5_000 + (conversation.index * 7919) % 60_000
    queued_until = start + timedelta(milliseconds=min(duration_ms // 4, wait_ms))
    wrap_start = end - timedelta(milliseconds=min(duration_ms // 10, 30_000))
    queue = org.queue(conversation.queue_id)
    agent = org.user(conversation.agent_id)

    customer_segment: Json = {
        "segmentType": "interact",
        "segmentStart": iso(start),
        "segmentEnd": iso(end),
        "disconnectType": conversation.disconnect_type,
    }
    customer: Json = {
        "participantId": _participant_id(org, conversation, 0),
        "purpose": "customer",
        "sessions": [_session(org, conversation, 0, [customer_segment])],
    }

    acd_segment: Json = {
        "segmentType": "interact",
        "segmentStart": iso(start),
        "segmentEnd": iso(queued_until),
        "queueId": conversation.queue_id,
        "disconnectType": "transfer",
    }
    acd: Json = {
        "participantId": _participant_id(org, conversation, 1),
        "purpose": "acd",
        "participantName": queue.name if queue else None,
        "sessions": [_session(org, conversation, 1, [acd_segment])],
    }

    agent_segments: list[Json] = [
        {
            "segmentType": "interact",
            "segmentStart": iso(queued_until),
            "segmentEnd": iso(wrap_start),
            "queueId": conversation.queue_id,
        },
        {
            "segmentType": "wrapup",
            "segmentStart": iso(wrap_start),
            "segmentEnd": iso(end),
            "queueId": conversation.queue_id,
            "wrapUpCode": conversation.wrap_up_code,
            "disconnectType": "peer",
        },
    ]
    agent_participant: Json = {
        "participantId": _participant_id(org, conversation, 2),
        "purpose": "agent",
        "userId": conversation.agent_id,
        "participantName": agent.name if agent else None,
        "teamId": agent.team_id if agent else None,
        "sessions": [_session(org, conversation, 2, agent_segments)],
    }

    if with_attributes:
        customer["attributes"] = {
            "surveyLanguage": "en-US",
            "crmTicket": f"T-{conversation.day}-{conversation.index}",
        }
        agent_participant["attributes"] = {}

    document: Json = {
        "conversationId": conversation.id,
        "conversationStart": iso(start),
        "conversationEnd": iso(end),
        "divisionIds": [conversation.division_id],
        "originatingDirection": conversation.direction,
        "participants": [customer, _drop_none(acd), _drop_none(agent_participant)],
    }
    if conversation.surveys:
        document["surveys"] = [analytics_survey_json(conversation, s) for s in conversation.surveys]
    if conversation.evaluations:
        document["evaluations"] = [
            analytics_evaluation_json(conversation, e) for e in conversation.evaluations
        ]
    return document


# Quality: surveys.


def _question_json(question: QuestionDef) -> Json:
    document: Json = {
        "id": question.id,
        "text": question.text,
        "helpText": "",
        "type": question.type,
        "naEnabled": question.na_enabled,
        "answerOptions": [
            {"id": option.id, "text": option.text, "value": option.value}
            for option in question.options
        ],
    }
    if question.type == "freeTextQuestion":
        document["maxResponseCharacters"] = 10_000
    return document


def survey_form_json(form: FormDef) -> Json:
    """Return a ``SurveyForm`` with all question groups, questions and answer options."""
    return {
        "id": form.id,
        "name": form.name,
        "modifiedDate": form.modified,
        "published": form.published,
        "disabled": False,
        "contextId": form.context_id,
        "language": form.language,
        "header": "",
        "footer": "",
        "questionGroups": [
            {
                "id": group.id,
                "name": group.name,
                "type": "questionGroup",
                "naEnabled": any(question.na_enabled for question in group.questions),
                "questions": [_question_json(question) for question in group.questions],
            }
            for group in form.groups
        ],
        "selfUri": f"/api/v2/quality/forms/surveys/{form.id}",
    }


def _survey_question_score(answer: QuestionAnswer) -> Json:
    return _drop_none(
        {
            "questionId": answer.question_id,
            "answerId": answer.answer_id,
            "score": answer.score,
            "markedNA": answer.marked_na,
            "systemMarkedNA": False,
            "npsScore": answer.nps_score,
            "npsTextAnswer": answer.nps_text,
            "freeTextAnswer": answer.free_text,
        }
    )


def _survey_answers_json(survey: SimSurvey) -> Json | None:
    if survey.answers is None:
        return None
    groups: list[Json] = []
    for group in survey.form.groups:
        scores = [answer for answer in survey.answers if answer.group_id == group.id]
        if not scores:
            continue
        earned, possible = group_score(survey.form, group.id, survey.answers)
        groups.append(
            {
                "questionGroupId": group.id,
                "totalScore": earned,
                "maxTotalScore": possible,
                "markedNA": False,
                "systemMarkedNA": False,
                "questionScores": [_survey_question_score(answer) for answer in scores],
            }
        )
    return _drop_none(
        {
            "totalScore": float(survey.total_score or 0),
            "npsScore": survey.nps_score,
            "questionGroupScores": groups,
        }
    )


def survey_json(org: Org, conversation: SimConversation, survey: SimSurvey) -> Json:
    """Return a ``Survey`` as ``GET /api/v2/quality/surveys/{surveyId}`` does."""
    agent = org.user(conversation.agent_id)
    team = org.team(agent.team_id) if agent and agent.team_id else None
    return _drop_none(
        {
            "id": survey.id,
            "name": survey.form.name,
            "conversation": {
                "id": conversation.id,
                "selfUri": f"/api/v2/conversations/{conversation.id}",
            },
            "surveyForm": survey_form_json(survey.form),
            "agent": {
                "id": conversation.agent_id,
                "name": agent.name if agent else None,
                "selfUri": f"/api/v2/users/{conversation.agent_id}",
            },
            "status": survey.status,
            "queue": {
                "id": conversation.queue_id,
                "selfUri": f"/api/v2/routing/queues/{conversation.queue_id}",
            },
            "answers": _survey_answers_json(survey),
            "completedDate": iso(survey.completed) if survey.completed else None,
            "surveyErrorDetails": (
                {"surveyErrorReason": "DeliveryFailed"} if survey.status == "Error" else None
            ),
            "agentTeam": (
                {
                    "id": team.id,
                    "name": team.name,
                    "division": division_json(org, team.division_id),
                    "selfUri": f"/api/v2/teams/{team.id}",
                }
                if team
                else None
            ),
            "surveyType": survey.survey_type,
            "missingRequiredAnswer": survey.missing_required_answer,
            "flow": {"id": survey.flow_id, "selfUri": f"/api/v2/flows/{survey.flow_id}"},
            "selfUri": f"/api/v2/quality/surveys/{survey.id}",
        }
    )


# Quality: evaluations.


def evaluation_form_json(form: FormDef) -> Json:
    """Return an ``EvaluationFormResponse`` with all question groups and questions."""
    return {
        "id": form.id,
        "name": form.name,
        "modifiedDate": form.modified,
        "published": form.published,
        "contextId": form.context_id,
        "questionGroups": [
            {
                "id": group.id,
                "name": group.name,
                "type": "questionGroup",
                "defaultAnswersToHighest": False,
                "defaultAnswersToNA": False,
                "naEnabled": any(question.na_enabled for question in group.questions),
                "weight": group.weight,
                "manualWeight": True,
                "questions": [
                    {
                        **_question_json(question),
                        "commentsRequired": False,
                        "isKill": question.is_kill,
                        "isCritical": question.is_critical,
                    }
                    for question in group.questions
                ],
            }
            for group in form.groups
        ],
        "weightMode": "SCALED",
        "selfUri": f"/api/v2/quality/forms/evaluations/{form.id}",
    }


def _evaluation_answers_json(evaluation: SimEvaluation) -> Json | None:
    if evaluation.answers is None:
        return None
    form = evaluation.form
    questions = {question.id: question for question in form.questions}
    groups: list[Json] = []
    for group in form.groups:
        answers = [answer for answer in evaluation.answers if answer.group_id == group.id]
        if not answers:
            continue
        earned, possible = group_score(form, group.id, evaluation.answers)
        groups.append(
            {
                "questionGroupId": group.id,
                "totalScore": earned,
                "maxTotalScore": possible,
                "markedNA": False,
                "systemMarkedNA": False,
                "questionScores": [
                    _drop_none(
                        {
                            "questionId": answer.question_id,
                            "answerId": answer.answer_id,
                            "score": answer.score,
                            "markedNA": answer.marked_na,
                            "systemMarkedNA": False,
                            "failedKillQuestion": bool(
                                questions[answer.question_id].is_kill and answer.score == 0
                            ),
                            "comments": answer.comment,
                        }
                    )
                    for answer in answers
                ],
            }
        )
    total = evaluation.total_score or 0.0
    return _drop_none(
        {
            "totalScore": total,
            "totalCriticalScore": evaluation.critical_score,
            "totalNonCriticalScore": total,
            "anyFailedKillQuestions": any(
                questions[a.question_id].is_kill and a.score == 0 for a in evaluation.answers
            ),
            "comments": evaluation.comments,
            "agentComments": evaluation.agent_comments,
            "questionGroupScores": groups,
        }
    )


def _expanded_user(org: Org, user_id: str, expand: bool) -> Json:
    user = org.user(user_id)
    if not expand or user is None:
        return user_ref(user_id)
    return _drop_none(
        {
            "id": user.id,
            "name": user.name,
            "state": user.state,
            "selfUri": f"/api/v2/users/{user.id}",
        }
    )


def evaluation_json(
    org: Org,
    conversation: SimConversation,
    evaluation: SimEvaluation,
    expand: frozenset[str],
    *,
    listing: bool = False,
) -> Json:
    """Return an ``EvaluationResponse``, or an ``Evaluation`` listing entry with ``listing``.

    Without ``expand`` the users and the form are id-only references; ``agent``, ``evaluator``,
    ``assignee`` and ``evaluationForm`` in ``expand`` add names and the full form.
    """
    form = evaluation.form
    form_json: Json = (
        evaluation_form_json(form)
        if "evaluationForm" in expand
        else {"id": form.id, "selfUri": f"/api/v2/quality/forms/evaluations/{form.id}"}
    )
    if listing and "evaluationForm" not in expand:
        form_json = {"id": form.id, "name": form.name, "contextId": form.context_id, **form_json}
    return _drop_none(
        {
            "id": evaluation.id,
            "conversation": {
                "id": conversation.id,
                "selfUri": f"/api/v2/conversations/{conversation.id}",
            },
            "evaluationForm": form_json,
            "evaluator": _expanded_user(org, evaluation.evaluator_id, "evaluator" in expand),
            "agent": _expanded_user(org, conversation.agent_id, "agent" in expand),
            "assignee": _expanded_user(org, evaluation.evaluator_id, "assignee" in expand),
            "status": evaluation.status.upper(),
            "answers": None if listing else _evaluation_answers_json(evaluation),
            "agentHasRead": evaluation.agent_has_read,
            "assigneeApplicable": True,
            "releaseDate": iso(evaluation.release_date) if evaluation.release_date else None,
            "assignedDate": iso(evaluation.created),
            "createdDate": iso(evaluation.created),
            "changedDate": iso(evaluation.changed),
            "submittedDate": iso(evaluation.submitted) if evaluation.submitted else None,
            "revisionCreatedDate": iso(evaluation.changed) if evaluation.rescored else None,
            "queue": {
                "id": conversation.queue_id,
                "selfUri": f"/api/v2/routing/queues/{conversation.queue_id}",
            },
            "mediaType": [_EVALUATION_MEDIA[conversation.media_type]],
            "divisionIds": [conversation.division_id],
            "rescore": evaluation.rescored,
            "conversationDate": iso(conversation.start),
            "conversationEndDate": iso(conversation.end),
            "neverRelease": evaluation.never_release,
            "assigned": True,
            "redacted": False,
            "evaluationSource": {"id": evaluation.evaluator_id, "type": "User"},
            "version": evaluation.version,
            "evaluationContextId": evaluation.context_id,
            "selfUri": (
                f"/api/v2/quality/conversations/{conversation.id}/evaluations/{evaluation.id}"
            ),
        }
    )
