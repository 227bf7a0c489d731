"""The synthetic org: users, queues, forms and one lazily generated set of conversations per day.

Everything derives from the seed. The conversations of a UTC day come from
``random.Random(f"{seed}:{day}")``, so any day can be produced on its own, and only a small
LRU cache of days stays in memory. Nothing depends on the wall clock.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from harvester.simulator.config import SimConfig
from harvester.simulator.forms import FormDef, build_evaluation_forms, build_survey_forms
from harvester.simulator.ids import IdCodec, IdKind, IdParts
from harvester.simulator.text import (
    COMMENTS,
    EVALUATION_COMMENTS,
    FIRST_NAMES,
    LAST_NAMES,
    QUEUE_NAMES,
    TEAM_NAMES,
)

EPOCH: Final[date] = date(1970, 1, 1)
DAY_MS: Final[int] = 86_400_000
#: Conversations on or after this day use the second version of the "Post-call CSAT" form.
CSAT_V2_FROM: Final[date] = date(2025, 7, 1)

SURVEY_STATUSES: Final[tuple[str, ...]] = (
    "Pending",
    "Sent",
    "InProgress",
    "Finished",
    "OptOut",
    "Error",
    "Expired",
)
_SURVEY_STATUS_WEIGHTS: Final[tuple[float, ...]] = (0.04, 0.08, 0.08, 0.55, 0.06, 0.07, 0.12)
EVALUATION_STATUSES: Final[tuple[str, ...]] = (
    "Finished",
    "InProgress",
    "InReview",
    "Pending",
    "Retracted",
)
_EVALUATION_STATUS_WEIGHTS: Final[tuple[float, ...]] = (0.7, 0.1, 0.05, 0.1, 0.05)
_MEAN_SURVEYS_PER_CONVERSATION: Final[float] = 0.75  # 35% none, 55% one, 10% two


def day_number(day: date) -> int:
    """Return the number of days since 1970-01-01."""
    return (day - EPOCH).days


def day_from_number(number: int) -> date:
    """Return the date ``number`` days after 1970-01-01."""
    return EPOCH + timedelta(days=number)


def day_start(day: date) -> datetime:
    """Return midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass(frozen=True, slots=True)
class SimDivision:
    """A division; every object belongs to one."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class SimTeam:
    """A team of agents."""

    id: str
    name: str
    division_id: str


@dataclass(frozen=True, slots=True)
class SimUser:
    """A user; agents who left have state ``inactive`` or ``deleted``."""

    id: str
    name: str
    email: str
    state: str
    division_id: str
    team_id: str | None
    is_evaluator: bool


@dataclass(frozen=True, slots=True)
class SimQueue:
    """A routing queue."""

    id: str
    name: str
    division_id: str
    member_count: int
    created: datetime


@dataclass(frozen=True, slots=True)
class QuestionAnswer:
    """The answer to one survey or evaluation question."""

    group_id: str
    question_id: str
    answer_id: str | None
    score: int | None
    marked_na: bool
    nps_score: int | None = None
    nps_text: str | None = None
    free_text: str | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class SimSurvey:
    """One survey of a conversation, as analytics lists it and as the Quality API returns it."""

    id: str
    form: FormDef
    status: str
    survey_type: str
    partial: bool
    completed: datetime | None
    event_time: datetime
    answers: tuple[QuestionAnswer, ...] | None
    nps_score: int | None
    total_score: int | None
    missing_required_answer: bool | None
    deleted: bool
    flow_id: str


@dataclass(frozen=True, slots=True)
class SimEvaluation:
    """One quality evaluation of a conversation."""

    id: str
    form: FormDef
    evaluator_id: str
    status: str
    released: bool
    rescored: bool
    system_submitted: bool
    never_release: bool
    agent_has_read: bool
    created: datetime
    submitted: datetime | None
    release_date: datetime | None
    changed: datetime
    event_time: datetime
    answers: tuple[QuestionAnswer, ...] | None
    total_score: float | None
    critical_score: float | None
    comments: str | None
    agent_comments: str | None
    version: int
    context_id: str
    deleted: bool
    listed_as_deleted: bool


@dataclass(frozen=True, slots=True)
class SimConversation:
    """One conversation with its customer, agent, surveys and evaluations."""

    id: str
    day: int
    index: int
    start: datetime
    end: datetime
    media_type: str
    direction: str
    agent_id: str
    queue_id: str
    division_id: str
    wrap_up_code: str
    disconnect_type: str
    surveys: tuple[SimSurvey, ...]
    evaluations: tuple[SimEvaluation, ...]


@dataclass(frozen=True, slots=True)
class ExpectedSurvey:
    """Ground truth for one survey, as a correct export should report it.

    ``question_count`` is the number of question scores in the survey's ``answers`` (0 when
    the survey has no answers). ``evaluation_ids`` are the conversation's evaluations whose GET
    succeeds and ``deleted_evaluation_ids`` those whose GET returns 404.
    """

    survey_id: str
    conversation_id: str
    conversation_start: datetime
    status: str
    survey_type: str
    partial: bool
    completed_date: datetime | None
    form_id: str
    form_name: str
    agent_id: str
    agent_name: str
    queue_id: str
    queue_name: str
    nps_score: int | None
    total_score: float | None
    deleted: bool
    evaluation_ids: tuple[str, ...]
    deleted_evaluation_ids: tuple[str, ...]
    question_count: int


class Org:
    """The synthetic org of one seed. Thread-safe: the day cache is guarded by a lock."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.codec = IdCodec(config.seed)
        rng = random.Random(f"{config.seed}:org")
        self.org_id = _uuid(rng)
        self.divisions = (
            SimDivision(_uuid(rng), "Home"),
            SimDivision(_uuid(rng), "EMEA"),
        )
        self.teams = tuple(
            SimTeam(_uuid(rng), name, self.divisions[index % 2].id)
            for index, name in enumerate(TEAM_NAMES)
        )
        self.queues = self._build_queues(rng)
        self.agents, self.evaluators = self._build_users(rng)
        self.users = self.agents + self.evaluators
        self.wrap_up_codes = tuple(_uuid(rng) for _ in range(6))
        self.survey_forms = build_survey_forms()
        self.evaluation_forms = build_evaluation_forms()
        self.survey_flow_ids = {form.context_id: _uuid(rng) for form in self.survey_forms}
        self._users_by_id = {user.id: user for user in self.users}
        self._queues_by_id = {queue.id: queue for queue in self.queues}
        self._teams_by_id = {team.id: team for team in self.teams}
        self._forms_by_id = {form.id: form for form in self.survey_forms + self.evaluation_forms}
        self._cache: OrderedDict[int, tuple[SimConversation, ...]] = OrderedDict()
        self._lock = threading.Lock()

    # Entities.

    def _build_queues(self, rng: random.Random) -> tuple[SimQueue, ...]:
        queues: list[SimQueue] = []
        for index in range(self.config.queue_count):
            name = QUEUE_NAMES[index % len(QUEUE_NAMES)]
            if index >= len(QUEUE_NAMES):
                name = f"{name} {index // len(QUEUE_NAMES) + 1}"
            created = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(600))
            queues.append(
                SimQueue(
                    _uuid(rng), name, self.divisions[index % 2].id, rng.randint(3, 40), created
                )
            )
        return tuple(queues)

    def _build_users(self, rng: random.Random) -> tuple[tuple[SimUser, ...], tuple[SimUser, ...]]:
        count = self.config.agent_count or 50 + int(self.config.surveys_per_day // 20)
        agents: list[SimUser] = []
        for index in range(count):
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            state = "active"
            if index % 12 == 5:
                state = "inactive"
            elif index % 12 == 11:
                state = "deleted"
            team = self.teams[index % len(self.teams)]
            agents.append(
                SimUser(
                    _uuid(rng),
                    name,
                    f"agent{index:04d}@example.com",
                    state,
                    team.division_id,
                    team.id,
                    is_evaluator=False,
                )
            )
        evaluators = tuple(
            SimUser(
                _uuid(rng),
                f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                f"qa{index:02d}@example.com",
                "deleted" if index == 4 else "active",
                self.divisions[0].id,
                None,
                is_evaluator=True,
            )
            for index in range(5)
        )
        return tuple(agents), evaluators

    def user(self, user_id: str) -> SimUser | None:
        """Return the user with ``user_id`` in any state, or ``None``."""
        return self._users_by_id.get(user_id)

    def queue(self, queue_id: str) -> SimQueue | None:
        """Return the queue with ``queue_id``, or ``None``."""
        return self._queues_by_id.get(queue_id)

    def team(self, team_id: str) -> SimTeam | None:
        """Return the team with ``team_id``, or ``None``."""
        return self._teams_by_id.get(team_id)

    def form(self, form_id: str) -> FormDef | None:
        """Return the survey or evaluation form version with ``form_id``, or ``None``."""
        return self._forms_by_id.get(form_id)

    def division(self, division_id: str) -> SimDivision:
        """Return the division with ``division_id``."""
        return next(item for item in self.divisions if item.id == division_id)

    # Conversations.

    def day_range(self, first: date, last: date) -> range:
        """Return the day numbers in [first, last] that lie within the org's days."""
        low = max(first, self.config.first_day)
        high = min(last, self.config.last_day)
        return range(day_number(low), day_number(high) + 1)

    def conversations(self, day: int) -> tuple[SimConversation, ...]:
        """Return the conversations that started on day number ``day``, sorted by start."""
        with self._lock:
            cached = self._cache.get(day)
            if cached is not None:
                self._cache.move_to_end(day)
                return cached
        generated = self._generate_day(day)
        with self._lock:
            self._cache[day] = generated
            while len(self._cache) > max(1, self.config.day_cache_size):
                self._cache.popitem(last=False)
        return generated

    def _conversations_uncached(self, day: int) -> tuple[SimConversation, ...]:
        with self._lock:
            cached = self._cache.get(day)
        return cached if cached is not None else self._generate_day(day)

    def conversation(self, conversation_id: str) -> SimConversation | None:
        """Return the conversation with ``conversation_id``, or ``None`` if it never existed."""
        parts = self.codec.decode(conversation_id)
        if parts is None or parts.kind != IdKind.CONVERSATION:
            return None
        return self._at(parts)

    def _at(self, parts: IdParts) -> SimConversation | None:
        if not self.config.first_day <= day_from_number(parts.day) <= self.config.last_day:
            return None
        day = self.conversations(parts.day)
        if parts.index >= len(day):
            return None
        return day[parts.index]

    def find_survey(self, survey_id: str) -> tuple[SimConversation, SimSurvey] | None:
        """Return the conversation and survey with ``survey_id``, deleted ones included."""
        parts = self.codec.decode(survey_id)
        if parts is None or parts.kind != IdKind.SURVEY:
            return None
        conversation = self._at(parts)
        if conversation is None or parts.sub >= len(conversation.surveys):
            return None
        return conversation, conversation.surveys[parts.sub]

    def find_evaluation(self, evaluation_id: str) -> tuple[SimConversation, SimEvaluation] | None:
        """Return the conversation and evaluation with ``evaluation_id``, deleted ones included."""
        parts = self.codec.decode(evaluation_id)
        if parts is None or parts.kind != IdKind.EVALUATION:
            return None
        conversation = self._at(parts)
        if conversation is None or parts.sub >= len(conversation.evaluations):
            return None
        return conversation, conversation.evaluations[parts.sub]

    def _generate_day(self, day: int) -> tuple[SimConversation, ...]:
        the_date = day_from_number(day)
        if not self.config.first_day <= the_date <= self.config.last_day:
            return ()
        rng = random.Random(f"{self.config.seed}:{the_date.isoformat()}")
        mean = self.config.surveys_per_day / _MEAN_SURVEYS_PER_CONVERSATION
        count = round(mean * rng.uniform(0.85, 1.15))
        offsets = sorted(rng.randrange(DAY_MS) for _ in range(count))
        if count >= 2:
            # Every day has one conversation at exactly midnight and one in its last millisecond.
            offsets[0] = 0
            offsets[-1] = DAY_MS - 1
        midnight = day_start(the_date)
        generator = _DayGenerator(self, rng, day, the_date)
        return tuple(
            generator.conversation(index, midnight + timedelta(milliseconds=offset))
            for index, offset in enumerate(offsets)
        )

    # Ground truth.

    def iter_expected_surveys(
        self,
        start: datetime,
        end: datetime,
        statuses: frozenset[str] = frozenset({"Finished"}),
    ) -> Iterator[ExpectedSurvey]:
        """Yield the surveys of conversations that started in [start, end), day by day."""
        start_utc = start.astimezone(UTC)
        end_utc = end.astimezone(UTC)
        if end_utc <= start_utc:
            return
        last = (end_utc - timedelta(microseconds=1)).date()
        for day in self.day_range(start_utc.date(), last):
            for conversation in self._conversations_uncached(day):
                if not start_utc <= conversation.start < end_utc:
                    continue
                for survey in conversation.surveys:
                    if survey.status in statuses:
                        yield self._expected(conversation, survey)

    def expected_surveys(
        self,
        start: datetime,
        end: datetime,
        statuses: frozenset[str] = frozenset({"Finished"}),
    ) -> list[ExpectedSurvey]:
        """Return the surveys of conversations that started in [start, end) with those statuses."""
        return list(self.iter_expected_surveys(start, end, statuses))

    def _expected(self, conversation: SimConversation, survey: SimSurvey) -> ExpectedSurvey:
        agent = self._users_by_id[conversation.agent_id]
        queue = self._queues_by_id[conversation.queue_id]
        return ExpectedSurvey(
            survey_id=survey.id,
            conversation_id=conversation.id,
            conversation_start=conversation.start,
            status=survey.status,
            survey_type=survey.survey_type,
            partial=survey.partial,
            completed_date=survey.completed,
            form_id=survey.form.id,
            form_name=survey.form.name,
            agent_id=agent.id,
            agent_name=agent.name,
            queue_id=queue.id,
            queue_name=queue.name,
            nps_score=survey.nps_score,
            total_score=None if survey.total_score is None else float(survey.total_score),
            deleted=survey.deleted,
            evaluation_ids=tuple(e.id for e in conversation.evaluations if not e.deleted),
            deleted_evaluation_ids=tuple(e.id for e in conversation.evaluations if e.deleted),
            question_count=len(survey.answers or ()),
        )


class _DayGenerator:
    """Draw the conversations of one day from the day's random generator, in a fixed order."""

    def __init__(self, org: Org, rng: random.Random, day: int, the_date: date) -> None:
        self.org = org
        self.rng = rng
        self.day = day
        self.the_date = the_date

    def conversation(self, index: int, start: datetime) -> SimConversation:
        rng = self.rng
        org = self.org
        end = start + timedelta(milliseconds=rng.randint(45_000, 1_800_000))
        media_type = rng.choices(("voice", "message", "email"), (0.55, 0.25, 0.2))[0]
        direction = "outbound" if rng.random() < 0.1 else "inbound"
        agent = rng.choice(org.agents)
        queue = rng.choice(org.queues)

        surveys_count = rng.choices((0, 1, 2), (0.35, 0.55, 0.10))[0]
        evaluations_count = rng.choices((0, 1, 2), (0.75, 0.2, 0.05))[0]
        surveys = tuple(
            self._survey(index, sub, media_type, end, second=sub == 1)
            for sub in range(surveys_count)
        )
        evaluations = tuple(
            self._evaluation(index, sub, media_type, end) for sub in range(evaluations_count)
        )

        return SimConversation(
            id=org.codec.encode(IdKind.CONVERSATION, self.day, index),
            day=self.day,
            index=index,
            start=start,
            end=end,
            media_type=media_type,
            direction=direction,
            agent_id=agent.id,
            queue_id=queue.id,
            division_id=queue.division_id,
            wrap_up_code=rng.choice(org.wrap_up_codes),
            disconnect_type=rng.choice(("client", "peer", "endpoint")),
            surveys=surveys,
            evaluations=evaluations,
        )

    def _survey_form(self, media_type: str) -> FormDef:
        forms = self.org.survey_forms
        csat = forms[1] if self.the_date >= CSAT_V2_FROM else forms[0]
        if media_type == "voice":
            return self.rng.choice((csat, forms[3]))
        return self.rng.choice((csat, forms[2]))

    def _survey(
        self, index: int, sub: int, media_type: str, end: datetime, *, second: bool
    ) -> SimSurvey:
        rng = self.rng
        form = self._survey_form(media_type)
        status = rng.choices(SURVEY_STATUSES, _SURVEY_STATUS_WEIGHTS)[0]
        if second and rng.random() < 0.5:
            status = "Finished"  # a re-sent survey that the customer answered
        partial = status == "InProgress"

        completed: datetime | None = None
        answers: tuple[QuestionAnswer, ...] | None = None
        if status == "Finished":
            band = rng.random()
            if band < 0.4:
                delay = rng.randint(30_000, 3_600_000)
            elif band < 0.8:
                delay = rng.randint(3_600_000, DAY_MS)
            else:
                delay = rng.randint(DAY_MS, 6 * DAY_MS)
            completed = end + timedelta(milliseconds=delay)
            event_time = completed
            answers = self._survey_answers(form, answered=len(form.questions))
        elif status == "InProgress":
            event_time = end + timedelta(milliseconds=rng.randint(60_000, 7_200_000))
            answers = self._survey_answers(form, answered=rng.randint(1, len(form.questions) - 1))
        elif status == "Expired":
            event_time = end + timedelta(days=7)
        else:
            event_time = end + timedelta(milliseconds=rng.randint(1_000, 600_000))

        nps_score: int | None = None
        total_score: int | None = None
        if answers is not None:
            nps_score = next((a.nps_score for a in answers if a.nps_score is not None), None)
            total_score = _survey_total(form, answers)

        return SimSurvey(
            id=self.org.codec.encode(IdKind.SURVEY, self.day, index, sub),
            form=form,
            status=status,
            survey_type=form.survey_type,
            partial=partial,
            completed=completed,
            event_time=event_time,
            answers=answers,
            nps_score=nps_score,
            total_score=total_score,
            missing_required_answer=(False if status == "Finished" else None),
            deleted=rng.random() < self.org.config.deleted_fraction,
            flow_id=self.org.survey_flow_ids[form.context_id],
        )

    def _survey_answers(self, form: FormDef, answered: int) -> tuple[QuestionAnswer, ...]:
        rng = self.rng
        result: list[QuestionAnswer] = []
        for group in form.groups:
            for question in group.questions:
                if len(result) >= answered:
                    return tuple(result)
                if question.na_enabled and rng.random() < 0.1:
                    result.append(QuestionAnswer(group.id, question.id, None, None, marked_na=True))
                elif question.type == "npsQuestion":
                    nps = rng.choices(range(11), (1, 1, 1, 1, 2, 3, 4, 8, 12, 14, 13))[0]
                    text = rng.choice(COMMENTS) if rng.random() < 0.6 else None
                    result.append(
                        QuestionAnswer(
                            group.id,
                            question.id,
                            None,
                            nps,
                            marked_na=False,
                            nps_score=nps,
                            nps_text=text,
                        )
                    )
                elif question.type == "freeTextQuestion":
                    result.append(
                        QuestionAnswer(
                            group.id,
                            question.id,
                            None,
                            None,
                            marked_na=False,
                            free_text=rng.choice(COMMENTS),
                        )
                    )
                else:
                    option = rng.choice(question.options)
                    result.append(
                        QuestionAnswer(
                            group.id, question.id, option.id, option.value, marked_na=False
                        )
                    )
        return tuple(result)

    def _evaluation(self, index: int, sub: int, media_type: str, end: datetime) -> SimEvaluation:
        rng = self.rng
        org = self.org
        form = org.evaluation_forms[0] if media_type == "voice" else org.evaluation_forms[1]
        status = rng.choices(EVALUATION_STATUSES, _EVALUATION_STATUS_WEIGHTS)[0]
        evaluator = rng.choice(org.evaluators)
        created = end + timedelta(milliseconds=rng.randint(3_600_000, 3 * DAY_MS))

        submitted: datetime | None = None
        answers: tuple[QuestionAnswer, ...] | None = None
        if status in ("Finished", "InReview", "Retracted"):
            submitted = created + timedelta(milliseconds=rng.randint(600_000, DAY_MS))
            answers = self._evaluation_answers(form, len(form.questions))
        elif status == "InProgress":
            answers = self._evaluation_answers(form, 1)

        released = status == "Finished" and rng.random() < 0.85
        release_date = (
            submitted + timedelta(milliseconds=rng.randint(0, DAY_MS))
            if released and submitted is not None
            else None
        )
        rescored = status == "Finished" and rng.random() < 0.05
        changed = release_date or submitted or created
        if rescored:
            changed += timedelta(days=2)
        deleted = rng.random() < org.config.deleted_fraction
        total, critical = _evaluation_scores(form, answers) if answers else (None, None)

        return SimEvaluation(
            id=org.codec.encode(IdKind.EVALUATION, self.day, index, sub),
            form=form,
            evaluator_id=evaluator.id,
            status=status,
            released=released,
            rescored=rescored,
            system_submitted=status == "Finished" and rng.random() < 0.03,
            never_release=status == "Finished" and not released and rng.random() < 0.5,
            agent_has_read=released and rng.random() < 0.6,
            created=created,
            submitted=submitted,
            release_date=release_date,
            changed=changed,
            event_time=changed,
            answers=answers,
            total_score=total,
            critical_score=critical,
            comments=rng.choice(EVALUATION_COMMENTS) if answers else None,
            agent_comments="Thanks!" if released and rng.random() < 0.3 else None,
            version=2 if rescored else 1,
            context_id=_uuid(rng),
            deleted=deleted,
            listed_as_deleted=deleted and rng.random() < 0.5,
        )

    def _evaluation_answers(self, form: FormDef, answered: int) -> tuple[QuestionAnswer, ...]:
        rng = self.rng
        result: list[QuestionAnswer] = []
        for group in form.groups:
            for question in group.questions:
                if len(result) >= answered:
                    return tuple(result)
                if question.na_enabled and rng.random() < 0.15:
                    result.append(QuestionAnswer(group.id, question.id, None, None, marked_na=True))
                    continue
                weights = (1, 3, 2)[: len(question.options)]
                option = rng.choices(question.options, weights)[0]
                comment = rng.choice(EVALUATION_COMMENTS) if rng.random() < 0.2 else None
                result.append(
                    QuestionAnswer(
                        group.id,
                        question.id,
                        option.id,
                        option.value,
                        marked_na=False,
                        comment=comment,
                    )
                )
        return tuple(result)


def _survey_total(form: FormDef, answers: tuple[QuestionAnswer, ...]) -> int:
    """Score answered, scored questions as a percentage of their maximum, rounded."""
    questions = {question.id: question for question in form.questions}
    earned = 0
    possible = 0
    for answer in answers:
        question = questions[answer.question_id]
        if answer.marked_na or answer.score is None or question.max_score == 0:
            continue
        earned += answer.score
        possible += question.max_score
    return round(100 * earned / possible) if possible else 0


def group_score(
    form: FormDef, group_id: str, answers: tuple[QuestionAnswer, ...]
) -> tuple[float, float]:
    """Return (earned percentage, 100.0) for one question group, or (0.0, 0.0) if nothing scored."""
    group = next(item for item in form.groups if item.id == group_id)
    by_id = {answer.question_id: answer for answer in answers}
    earned = 0
    possible = 0
    for question in group.questions:
        answer = by_id.get(question.id)
        if answer is None or answer.marked_na or answer.score is None:
            continue
        earned += answer.score
        possible += question.max_score
    if not possible:
        return 0.0, 0.0
    return round(100 * earned / possible, 2), 100.0


def _evaluation_scores(form: FormDef, answers: tuple[QuestionAnswer, ...]) -> tuple[float, float]:
    """Return (weighted total, critical score), both as percentages with two decimals."""
    weighted = 0.0
    weights = 0.0
    for group in form.groups:
        earned, possible = group_score(form, group.id, answers)
        if possible:
            weighted += earned * group.weight
            weights += group.weight
    questions = {question.id: question for question in form.questions}
    critical_earned = 0
    critical_possible = 0
    for answer in answers:
        question = questions[answer.question_id]
        if question.is_critical and answer.score is not None and not answer.marked_na:
            critical_earned += answer.score
            critical_possible += question.max_score
    total = round(weighted / weights, 2) if weights else 0.0
    critical = round(100 * critical_earned / critical_possible, 2) if critical_possible else 100.0
    return total, critical
