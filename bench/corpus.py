"""Deterministic English sentences on many topics: speech for generated videos, text for chunks and
queries. Varied enough that their MiniLM vectors spread like real transcript text, not one cluster."""

from __future__ import annotations

import random

_TOPICS = (
    ("river", "ice", "spring", "flood", "bank"), ("bread", "dough", "yeast", "oven", "flour"),
    ("planet", "ring", "telescope", "orbit", "moon"), ("engine", "piston", "fuel", "gear", "exhaust"),
    ("garden", "tomato", "soil", "seed", "compost"), ("market", "price", "inflation", "bond", "rate"),
    ("violin", "melody", "concert", "orchestra", "chord"), ("glacier", "valley", "climate", "snow", "melt"),
    ("football", "goal", "referee", "league", "striker"), ("election", "vote", "ballot", "party", "poll"),
    ("virus", "vaccine", "cell", "immune", "trial"), ("bridge", "steel", "cable", "load", "span"),
    ("coffee", "bean", "roast", "grinder", "espresso"), ("forest", "owl", "pine", "fungus", "deer"),
    ("database", "index", "query", "table", "vector"), ("ship", "harbour", "cargo", "tide", "anchor"),
    ("painting", "canvas", "colour", "brush", "museum"), ("battery", "lithium", "charge", "grid", "solar"),
    ("mountain", "rope", "summit", "storm", "camp"), ("novel", "chapter", "author", "plot", "reader"),
)  # fmt: skip
_TEMPLATES = (
    "Today we talk about the {a} and why the {b} matters so much.",
    "Most people never notice how the {a} changes when the {b} moves.",
    "My guest has spent twenty years studying the {a} and the {b}.",
    "If the {a} fails, the {b} and the {c} fail with it.",
    "The surprising thing about the {a} is how little {b} it needs.",
    "We measured the {a} every morning and wrote down the {b}.",
    "Could you explain what happens to the {a} after the {c}?",
    "A listener asked whether the {b} really depends on the {a}.",
    "In the old days nobody cared about the {c} or the {a}.",
    "That is the moment the {b} meets the {c}, and everything shifts.",
)


def sentences(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = rng.choice(_TOPICS)
        a, b, c = rng.sample(words, 3)
        out.append(rng.choice(_TEMPLATES).format(a=a, b=b, c=c))
    return out


def topic_count() -> int:
    return len(_TOPICS)
