"""Survey and evaluation form definitions of the synthetic org."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

QuestionType = Literal[
    "multipleChoiceQuestion",
    "multipleSelectQuestion",
    "freeTextQuestion",
    "npsQuestion",
    "readOnlyTextBlockQuestion",
]


@dataclass(frozen=True, slots=True)
class AnswerOptionDef:
    """One answer option of a multiple-choice question."""

    id: str
    text: str
    value: int


@dataclass(frozen=True, slots=True)
class QuestionDef:
    """One question of a survey or evaluation form."""

    id: str
    text: str
    type: QuestionType
    options: tuple[AnswerOptionDef, ...] = ()
    na_enabled: bool = False
    is_critical: bool = False
    is_kill: bool = False

    @property
    def max_score(self) -> int:
        """Highest score the question can contribute: 10 for NPS, the top option otherwise."""
        if self.type == "npsQuestion":
            return 10
        if self.options:
            return max(option.value for option in self.options)
        return 0


@dataclass(frozen=True, slots=True)
class QuestionGroupDef:
    """A named group of questions."""

    id: str
    name: str
    questions: tuple[QuestionDef, ...]
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class FormDef:
    """A survey or evaluation form version. ``context_id`` is shared by all versions of a form."""

    id: str
    context_id: str
    name: str
    groups: tuple[QuestionGroupDef, ...]
    language: str = "en-US"
    survey_type: Literal["Web", "Voice"] = "Web"
    modified: str = "2024-11-05T09:30:00.000Z"
    published: bool = True

    @property
    def questions(self) -> tuple[QuestionDef, ...]:
        """All questions of all groups in form order."""
        return tuple(question for group in self.groups for question in group.questions)


def _options(prefix: str, labels: tuple[tuple[str, int], ...]) -> tuple[AnswerOptionDef, ...]:
    return tuple(
        AnswerOptionDef(id=f"{prefix}-{index}", text=text, value=value)
        for index, (text, value) in enumerate(labels, start=1)
    )


_SATISFACTION = (
    ("Very dissatisfied", 0),
    ("Dissatisfied", 25),
    ("Neutral", 50),
    ("Satisfied", 75),
    ("Very satisfied", 100),
)
_YES_NO = (("Yes", 10), ("No", 0))


def build_survey_forms() -> tuple[FormDef, ...]:
    """Return the survey form versions; "Post-call CSAT" has two versions with one context."""
    csat_groups_v1 = (
        QuestionGroupDef(
            id="5f0a1c2e-0000-4000-8000-00000000a101",
            name="Satisfaction",
            questions=(
                QuestionDef(
                    "5f0a1c2e-0000-4000-8000-00000000b101",
                    "How likely are you to recommend us to a friend?",
                    "npsQuestion",
                ),
                QuestionDef(
                    "5f0a1c2e-0000-4000-8000-00000000b102",
                    "How satisfied were you?",
                    "multipleChoiceQuestion",
                    _options("5f0a1c2e-0000-4000-8000-00000000c1", _SATISFACTION),
                ),
                QuestionDef(
                    "5f0a1c2e-0000-4000-8000-00000000b103",
                    "Anything else to tell us?",
                    "freeTextQuestion",
                ),
            ),
        ),
    )
    csat_groups_v2 = (
        *csat_groups_v1,
        QuestionGroupDef(
            id="5f0a1c2e-0000-4000-8000-00000000a102",
            name="Resolution",
            questions=(
                QuestionDef(
                    "5f0a1c2e-0000-4000-8000-00000000b104",
                    "Was your issue resolved?",
                    "multipleChoiceQuestion",
                    _options("5f0a1c2e-0000-4000-8000-00000000c2", _YES_NO),
                    na_enabled=True,
                ),
            ),
        ),
    )
    chat_groups = (
        QuestionGroupDef(
            id="5f0a1c2e-0000-4000-8000-00000000a201",
            name="Chat experience",
            questions=(
                QuestionDef(
                    "5f0a1c2e-0000-4000-8000-00000000b201",
                    "Wie wahrscheinlich empfehlen Sie uns weiter?",
                    "npsQuestion",
                ),
                QuestionDef(
                    "5f0a1c2e-0000-4000-8000-00000000b202",
                    "Wurde Ihr Anliegen gelöst?",
                    "multipleChoiceQuestion",
                    _options("5f0a1c2e-0000-4000-8000-00000000c3", _YES_NO),
                ),
                QuestionDef(
                    "5f0a1c2e-0000-4000-8000-00000000b203", "Ihr Kommentar", "freeTextQuestion"
                ),
            ),
        ),
    )
    voice_groups = (
        QuestionGroupDef(
            id="5f0a1c2e-0000-4000-8000-00000000a301",
            name="IVR survey",
            questions=(
                QuestionDef(
                    "5f0a1c2e-0000-4000-8000-00000000b301",
                    "On a scale from 0 to 10, how likely are you to recommend us?",
                    "npsQuestion",
                ),
                QuestionDef(
                    "5f0a1c2e-0000-4000-8000-00000000b302",
                    "Press 1 if the agent was polite",
                    "multipleChoiceQuestion",
                    _options("5f0a1c2e-0000-4000-8000-00000000c4", _YES_NO),
                ),
            ),
        ),
    )
    return (
        FormDef(
            id="5f0a1c2e-0000-4000-8000-000000000101",
            context_id="5f0a1c2e-0000-4000-8000-000000000100",
            name="Post-call CSAT",
            groups=csat_groups_v1,
            modified="2024-06-02T08:00:00.000Z",
        ),
        FormDef(
            id="5f0a1c2e-0000-4000-8000-000000000102",
            context_id="5f0a1c2e-0000-4000-8000-000000000100",
            name="Post-call CSAT (2025)",
            groups=csat_groups_v2,
        ),
        FormDef(
            id="5f0a1c2e-0000-4000-8000-000000000201",
            context_id="5f0a1c2e-0000-4000-8000-000000000200",
            name="Chat-Zufriedenheit",
            groups=chat_groups,
            language="de-DE",
        ),
        FormDef(
            id="5f0a1c2e-0000-4000-8000-000000000301",
            context_id="5f0a1c2e-0000-4000-8000-000000000300",
            name="IVR NPS",
            groups=voice_groups,
            survey_type="Voice",
        ),
    )


_EVAL_SCALE = (("Below expectations", 0), ("Meets expectations", 1), ("Exceeds expectations", 2))


def build_evaluation_forms() -> tuple[FormDef, ...]:
    """Return the two evaluation forms."""
    voice = FormDef(
        id="e7a1c2e0-0000-4000-8000-000000000101",
        context_id="e7a1c2e0-0000-4000-8000-000000000100",
        name="Voice QA 2025",
        groups=(
            QuestionGroupDef(
                id="e7a1c2e0-0000-4000-8000-00000000a101",
                name="Compliance",
                weight=0.4,
                questions=(
                    QuestionDef(
                        "e7a1c2e0-0000-4000-8000-00000000b101",
                        "Did the agent verify the caller?",
                        "multipleChoiceQuestion",
                        _options("e7a1c2e0-0000-4000-8000-00000000c1", (("No", 0), ("Yes", 1))),
                        is_critical=True,
                        is_kill=True,
                    ),
                ),
            ),
            QuestionGroupDef(
                id="e7a1c2e0-0000-4000-8000-00000000a102",
                name="Soft skills",
                weight=0.6,
                questions=(
                    QuestionDef(
                        "e7a1c2e0-0000-4000-8000-00000000b102",
                        "Empathy",
                        "multipleChoiceQuestion",
                        _options("e7a1c2e0-0000-4000-8000-00000000c2", _EVAL_SCALE),
                    ),
                    QuestionDef(
                        "e7a1c2e0-0000-4000-8000-00000000b103",
                        "Call control",
                        "multipleChoiceQuestion",
                        _options("e7a1c2e0-0000-4000-8000-00000000c3", _EVAL_SCALE),
                        na_enabled=True,
                    ),
                ),
            ),
        ),
    )
    digital = FormDef(
        id="e7a1c2e0-0000-4000-8000-000000000201",
        context_id="e7a1c2e0-0000-4000-8000-000000000200",
        name="Digital QA",
        groups=(
            QuestionGroupDef(
                id="e7a1c2e0-0000-4000-8000-00000000a201",
                name="Writing",
                questions=(
                    QuestionDef(
                        "e7a1c2e0-0000-4000-8000-00000000b201",
                        "Spelling and grammar",
                        "multipleChoiceQuestion",
                        _options("e7a1c2e0-0000-4000-8000-00000000c4", _EVAL_SCALE),
                    ),
                    QuestionDef(
                        "e7a1c2e0-0000-4000-8000-00000000b202",
                        "Tone",
                        "multipleChoiceQuestion",
                        _options("e7a1c2e0-0000-4000-8000-00000000c5", _EVAL_SCALE),
                        is_critical=True,
                    ),
                ),
            ),
        ),
    )
    return (voice, digital)
