"""Confidence tiers: their names, their order, the confidence each starts at,
and which tiers give an answer. Every module that speaks of tiers (matching,
autofill, review, the web app) takes them from here."""
from __future__ import annotations

# Best first; "none" is the tier of a question the bank has no answer for.
TIERS = ("high", "medium", "low", "none")
# Higher is better; autofill fills a question whose tier ranks at least the asked one.
TIER_RANK = {"high": 3, "medium": 2, "low": 1, "none": 0}
# The lowest confidence of each tier above "none".
TIER_THRESHOLDS = (("high", 0.9), ("medium", 0.75), ("low", 0.3))
# Tiers whose best candidate is given as the answer (and may be accepted in bulk).
ANSWER_TIERS = ("high", "medium")


def tier_for(confidence: float) -> str:
    for name, lo in TIER_THRESHOLDS:
        if confidence >= lo:
            return name
    return "none"
