"""The sentences the "My handwriting" page asks people to write, one short line at a time.

Written for this project (no outside source). Together they hold every character in :data:`TARGET_CHARS`
(a–z, A–Z, 0–9 and common punctuation) at least twice, so a full collection gives a model a few samples
of each; each line is short enough to write across the drawing strip in one go.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Iterable

# The characters a collection should cover (the same set the synthetic corpus guarantees).
PUNCTUATION = ".,;:!?'\"-()&/"
TARGET_CHARS = string.ascii_lowercase + string.ascii_uppercase + string.digits + PUNCTUATION

PROMPTS: tuple[str, ...] = (
    "Call Jo at 6:45 tonight.",
    "Buy milk, eggs & 2 loaves.",
    "Is the van free on Friday?",
    "Quick! Grab the yellow box.",
    'Zoe said, "Keep it simple."',
    "My keys (both) are in the hall.",
    "We met in Oslo in 1987.",
    "Bake 3/4 of the dough first.",
    "Henry's train left at 10:20.",
    "Vera likes jazz and pizza.",
    "Next week: Xavier visits us.",
    "Please don't forget the rent!",
    "Unpack the blue-green mugs.",
    "Ask Yuri for a quiet room.",
    "Lunch is at noon; bring water.",
    "Every Sunday we call Dad.",
    "Rain again? Take the old coat.",
    "Kim fixed the door (finally).",
    "Room 56/B is on the left.",
    '"Wait here," whispered Gus.',
    "Order 48 jars of honey.",
    "Victor and Uma went to Quebec.",
    "Our bus is late; we'll walk.",
    "Fix the X-ray cart by noon.",
    "Yes, the shop opens at 7:30.",
    "Call me back on 0161 492 8357.",
    "Pat won the race (by a mile)!",
    "Good morning: the tea is ready.",
    "Dogs bark; cats just watch.",
    "Lena packed socks/scarves.",
    "The zoo opens at 9 sharp.",
    "Hats off to the brave crew!",
    "Even small jobs take time.",
    "Shall we jog, or just stroll?",
    "Now mix the flour & salt.",
    "I think it's time to go home.",
    "Tom and Ann fly to Zurich.",
    "Jack wants extra jam, please.",
    "Meet me by the square at noon.",
    "Keep the receipt in a safe place.",
)


def char_counts(texts: Iterable[str], chars: str = TARGET_CHARS) -> dict[str, int]:
    """How often each of ``chars`` occurs in ``texts`` (every one of them listed, zeros included)."""
    counts = Counter("".join(texts))
    return {c: counts.get(c, 0) for c in chars}
