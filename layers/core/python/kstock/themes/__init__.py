"""Theme sync's classification core (issue 14): which micro theme does a surging stock belong to?

- :mod:`kstock.themes.names`: one spelling per theme (spacing, synonyms, compound names);
- :mod:`kstock.themes.rules`: the rules classifier (kiwipiepy nouns against learned tf-idf keyword sets);
- :mod:`kstock.themes.llm`: the Gemini classifier (structured answer, checked against the input);
- :mod:`kstock.themes.classify`: the chain LLM -> rules -> 미분류, and the idempotency key;
- :mod:`kstock.themes.evaluate`: accuracy on the hand-labelled golden set (``golden.jsonl``).
"""

from kstock.themes.classify import Classification, classify, idempotency_key
from kstock.themes.model import Entrant, Headline, ThemeInfo
from kstock.themes.names import UNCLASSIFIED, match_theme, same_theme
from kstock.themes.rules import RulesClassifier, RulesVerdict

__all__ = [
    "UNCLASSIFIED",
    "Classification",
    "Entrant",
    "Headline",
    "RulesClassifier",
    "RulesVerdict",
    "ThemeInfo",
    "classify",
    "idempotency_key",
    "match_theme",
    "same_theme",
]
