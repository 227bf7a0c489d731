"""Text pools for the synthetic org: people, queues and customer comments.

The comments deliberately include emoji, CJK, right-to-left scripts, newlines, quotes,
backslashes and one comment longer than 5,000 characters, because those are what break exports.
"""

from __future__ import annotations

from typing import Final

FIRST_NAMES: Final[tuple[str, ...]] = (
    "Ada",
    "Bruno",
    "Chloé",
    "Dmitri",
    "Esperanza",
    "Farah",
    "Gustav",
    "Hana",
    "Ingrid",
    "João",
    "Kenji",
    "Laila",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quentin",
    "Rosa",
    "Søren",
    "Tomasz",
    "Ulla",
    "Valentina",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoë",
    "李",
    "محمد",
    "Noa",
    "O'Brien",
)
LAST_NAMES: Final[tuple[str, ...]] = (
    "Lovelace",
    "Ångström",
    "Nakamura",
    "García",
    "Okafor",
    "Schäfer",
    "Kowalski",
    "Haddad",
    "Nguyen",
    "Fitzgerald",
    "Rossi",
    "Iyer",
    "Dubois",
    "Novak",
    "Lindqvist",
    "Mendes",
    "娜",
    "العلي",
    "Ben-David",
    "D'Angelo",
)
TEAM_NAMES: Final[tuple[str, ...]] = (
    "Team Blue",
    "Team Amber",
    "Équipe Verte",
    "Night Shift",
    "Escalations",
)
QUEUE_NAMES: Final[tuple[str, ...]] = (
    "Support EN",
    "Support DE",
    "Billing",
    "Sales Inbound",
    "Retention",
    "Technical L2",
    "Soporte ES",
    "Support FR",
    "VIP Care",
    "Returns & Refunds",
    "Onboarding",
    "Complaints",
    "サポート JP",
    "Partners",
    "Callbacks",
    "Email Backlog",
)

_LONG_COMMENT: Final[str] = (
    "I want to describe the whole experience in detail because it took several calls. " * 65
).strip()

COMMENTS: Final[tuple[str, ...]] = (
    "Quick and friendly, thanks!",
    "The agent solved my problem in two minutes.",
    "Hold music was too loud.",
    "Great service 👍😀",
    "非常满意，谢谢！",
    "対応がとても丁寧でした。",
    "خدمة ممتازة، شكرا جزيلا",
    "השירות היה מצוין",
    "First line\nSecond line\r\nThird line",
    'She said "we will call you back" and never did.',
    "Path was C:\\Users\\me\\Documents\\invoice.pdf — could not upload it",
    "Tab\tseparated\tfeedback",
    "Mixed: café, naïve, Straße, 🇩🇪🇫🇷, and a zero\u200bwidth space",
    "Line separator\u2028inside a comment",
    "",
    "   ",
    '{"json": "inside", "a": [1, 2]}',
    "<script>alert('x')</script>",
    _LONG_COMMENT,
)

EVALUATION_COMMENTS: Final[tuple[str, ...]] = (
    "Good empathy, missed the verification step.",
    "Excellent call control.",
    "Needs to offer the survey at the end.",
    "Très bien, mais trop long.",
    'Follow the "three strikes" rule next time.\nSee coaching notes.',
)
