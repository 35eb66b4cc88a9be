"""Typed loader and validator of the registry of the seed's quantitative claims.

The registry (``registry.yaml``, package data) lists every quantitative claim of sections 4 and 6
of the seed -- the C4EO (2010) knowledge review on 'highly resistant' families -- and the national
figures of its data annexe. Each claim keeps the review's exact wording, the effect measure as
published (odds ratio ``OR``, hazard ratio ``HR``, risk ratio ``RR``, ``percentage`` ...) or
``unstated`` where neither the review nor the study's abstract says, the outcome, window, sample
size, design and adjustment set where known, and notes on discrepancies between sources.

``exclusions.yaml`` lists the numbers of those sections that are not claims (citation years,
footnote markers, section cross-references), each with a reason. :func:`uncovered_numbers`
checks, occurrence by occurrence, that every number printed in a section is accounted for by a
claim's quote or by an exclusion; the registry test runs it on the seed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, get_args

import yaml

from recurrence.models.base import check_literal

Measure = Literal["OR", "HR", "RR", "percentage", "count", "duration", "unstated"]
MEASURES: tuple[str, ...] = get_args(Measure)
Kind = Literal["effect", "proportion", "range", "count", "duration", "national"]
KINDS: tuple[str, ...] = get_args(Kind)
Section = Literal["4", "6", "annexe"]
SECTIONS: tuple[str, ...] = get_args(Section)

_REQUIRED = ("id", "citation", "section", "subsection", "quote", "numbers", "kind", "measure")


class RegistryError(ValueError):
    """The registry or exclusion file is malformed (names the entry and the field)."""


@dataclass(frozen=True)
class Claim:
    """One quantitative claim of the seed.

    Attributes
    ----------
    id
        Stable identifier (``recurrence effects --claims``).
    citation, reference
        The study as the review cites it, and its full reference where known.
    section, subsection
        Seed section ("4", "6" or "annexe") and heading.
    quote
        The review's exact wording (whitespace-normalised).
    numbers
        Number tokens of the quote this claim accounts for.
    kind
        ``effect`` (a contrast), ``proportion``, ``range``, ``count``, ``duration``, ``national``.
    measure
        Effect measure as published (``OR``, ``HR``, ``RR``, ``percentage``, ``count``,
        ``duration``) or ``unstated``.
    measure_basis
        Where the measure comes from (the review's wording, the study's abstract, inference).
    value
        The reported value on the scale of ``measure`` (ratio for OR/HR/RR, per cent for
        percentages); ``None`` for ranges or directions only.
    range
        ``(low, high)`` for claims reported as a range.
    scenario
        Id of the design-matched scenario (:mod:`recurrence.effects.scenarios`) or ``None``.
    """

    id: str
    citation: str
    section: Section
    subsection: str
    quote: str
    numbers: tuple[str, ...]
    kind: Kind
    measure: Measure
    measure_basis: str | None = None
    reference: str | None = None
    value: float | None = None
    range: tuple[float, float] | None = None
    outcome: str | None = None
    window: str | None = None
    sample_size: int | None = None
    design: str | None = None
    model: str | None = None
    adjustment: tuple[str, ...] | None = None
    scenario: str | None = None
    no_scenario_reason: str | None = None
    notes: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_effect(self) -> bool:
        """True for contrasts between groups (the claims that get a simulation scenario)."""
        return self.kind == "effect"

    @property
    def point_value(self) -> float | None:
        """The value placed as truth: ``value``, else the geometric mid-point of ``range``.

        The geometric mid-point suits ratio measures (equal distance on the log scale to both
        ends); for percentages the ``value`` field is always set instead.
        """
        if self.value is not None:
            return float(self.value)
        if self.range is not None:
            return float((self.range[0] * self.range[1]) ** 0.5)
        return None


@dataclass(frozen=True)
class Exclusion:
    """A number of the seed that is not a claim: ``value`` printed inside ``context``."""

    value: str
    context: str
    section: Section
    reason: str


@dataclass(frozen=True)
class ExclusionRule:
    """A pattern of non-claim numbers (e.g. citation years); group ``number`` is excluded."""

    id: str
    pattern: str
    reason: str


def normalise(text: str) -> str:
    """Collapse whitespace and re-join words hyphenated across line breaks ("case- level").

    Applied to both the seed and the registry quotes so that a quote copied from the PDF text
    matches wherever its line breaks fell.
    """
    text = re.sub(r"\s+", " ", text)
    return re.sub(r"(?<=[a-z])- (?=[a-z])", "-", text).strip()


def _tuple_or_none(value: Any) -> tuple[Any, ...] | None:
    if value is None:
        return None
    return tuple(value)


def _claim_from_mapping(entry: dict[str, Any], where: str) -> Claim:
    missing = [k for k in _REQUIRED if k not in entry]
    if missing:
        raise RegistryError(f"{where}: missing field(s) {', '.join(missing)}")
    known = {f for f in Claim.__dataclass_fields__ if f != "extra"}
    extra = {k: v for k, v in entry.items() if k not in known}
    kwargs = {k: v for k, v in entry.items() if k in known}
    kwargs["numbers"] = tuple(str(n) for n in entry["numbers"])
    kwargs["section"] = str(entry["section"])
    kwargs["adjustment"] = _tuple_or_none(entry.get("adjustment"))
    rng = entry.get("range")
    kwargs["range"] = None if rng is None else (float(rng[0]), float(rng[1]))
    if entry.get("value") is not None:
        kwargs["value"] = float(entry["value"])
    try:
        check_literal(f"{where}.measure", kwargs["measure"], MEASURES)
        check_literal(f"{where}.kind", kwargs["kind"], KINDS)
        check_literal(f"{where}.section", kwargs["section"], SECTIONS)
    except ValueError as exc:
        raise RegistryError(str(exc)) from None
    claim = Claim(**kwargs, extra=extra)
    quote = normalise(claim.quote)
    for token in claim.numbers:
        if token not in quote:
            raise RegistryError(f"{where}: number {token!r} is not in the quote")
    if claim.range is not None and claim.range[0] > claim.range[1]:
        raise RegistryError(f"{where}: range low > high")
    if claim.scenario is None and claim.kind == "effect" and not claim.no_scenario_reason:
        raise RegistryError(f"{where}: effect claim without scenario needs no_scenario_reason")
    return claim


def _read_package_yaml(name: str) -> Any:
    text = resources.files("recurrence.effects").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def parse_registry(data: Any, *, source: str = "registry.yaml") -> tuple[Claim, ...]:
    """Validate a parsed registry mapping and return its claims (ids must be unique)."""
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        raise RegistryError(f"{source}: expected a mapping with a list 'claims'")
    claims = []
    seen: set[str] = set()
    for i, entry in enumerate(data["claims"]):
        if not isinstance(entry, dict):
            raise RegistryError(f"{source}: claims[{i}] is not a mapping")
        where = f"{source}: claim {entry.get('id', i)!s}"
        claim = _claim_from_mapping(entry, where)
        if claim.id in seen:
            raise RegistryError(f"{where}: duplicate id")
        seen.add(claim.id)
        claims.append(claim)
    return tuple(claims)


@lru_cache(maxsize=1)
def load_registry() -> tuple[Claim, ...]:
    """The package's registry of claims, validated (cached)."""
    return parse_registry(_read_package_yaml("registry.yaml"))


def get_claim(claim_id: str) -> Claim:
    """The claim with id ``claim_id``; ``KeyError`` naming the known ids otherwise."""
    for claim in load_registry():
        if claim.id == claim_id:
            return claim
    raise KeyError(f"unknown claim {claim_id!r}")


@lru_cache(maxsize=1)
def load_exclusions() -> tuple[tuple[Exclusion, ...], tuple[ExclusionRule, ...]]:
    """The exclusion list: explicit occurrences and pattern rules, each with a reason."""
    data = _read_package_yaml("exclusions.yaml")
    occ = []
    for i, e in enumerate(data.get("occurrences", [])):
        for key in ("value", "context", "section", "reason"):
            if not e.get(key):
                raise RegistryError(f"exclusions.yaml: occurrences[{i}] lacks {key}")
        if str(e["value"]) not in normalise(str(e["context"])):
            raise RegistryError(f"exclusions.yaml: occurrences[{i}] value not in its context")
        section = str(e["section"])
        check_literal("section", section, SECTIONS)
        occ.append(Exclusion(str(e["value"]), str(e["context"]), section, e["reason"]))  # type: ignore[arg-type]
    rules = []
    for i, r in enumerate(data.get("rules", [])):
        for key in ("id", "pattern", "reason"):
            if not r.get(key):
                raise RegistryError(f"exclusions.yaml: rules[{i}] lacks {key}")
        if "(?P<number>" not in r["pattern"]:
            raise RegistryError(f"exclusions.yaml: rule {r['id']} needs a group 'number'")
        rules.append(ExclusionRule(r["id"], r["pattern"], r["reason"]))
    return tuple(occ), tuple(rules)


# -- the seed's sections and its numbers --------------------------------------------------------
_SECTION_HEADINGS = {
    "4": (r"^\s*4 What are the c", r"^\s*5 What c"),
    "6": (r"^\s*6 What s ervic", r"^\s*7 C onc"),
    "annexe": (r"^\s*Data annexe\s*$", r"^\s*A ppendix 1"),
}

NUMBER_PATTERN = re.compile(
    r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w])"
    r"|\b(?:twice|(?:one|two|three|four|five|six|seven|eight|nine|ten) times"
    r"|one-thirds?|two-thirds|three-quarters|one-quarter|half|third|quarter)\b",
    flags=re.IGNORECASE,
)
"""Numbers the registry must account for: digits (with thousands commas and decimals),
multiplicative words ("twice", "four times") and fractions ("half", "two-thirds")."""


def section_text(seed_text: str, section: Section) -> str:
    """The normalised text of one seed section, from its heading to the next section's.

    Headings are found by their first words as the PDF-to-text conversion printed them
    (letter-spaced, e.g. ``4 What are the c irc ums tanc es``).
    """
    check_literal("section", section, SECTIONS)
    start_pat, end_pat = _SECTION_HEADINGS[section]
    lines = seed_text.splitlines()
    start = next((i for i, s in enumerate(lines) if re.search(start_pat, s)), None)
    if start is None:
        raise RegistryError(f"seed: heading of section {section} not found")
    end = next((i for i in range(start + 1, len(lines)) if re.search(end_pat, lines[i])), None)
    if end is None:
        raise RegistryError(f"seed: end of section {section} not found")
    return normalise("\n".join(lines[start:end]))


@dataclass(frozen=True)
class NumberOccurrence:
    """A number printed in a section: its token, offset and surrounding text."""

    token: str
    start: int
    end: int
    context: str


def number_occurrences(text: str) -> Iterator[NumberOccurrence]:
    """Every number token of ``text`` (see :data:`NUMBER_PATTERN`) with 60 characters of context."""
    for m in NUMBER_PATTERN.finditer(text):
        yield NumberOccurrence(
            m.group(0), m.start(), m.end(), text[max(0, m.start() - 60) : m.end() + 60]
        )


def _spans(text: str, quote: str) -> list[tuple[int, int]]:
    q = normalise(quote)
    out, i = [], text.find(q)
    while i >= 0:
        out.append((i, i + len(q)))
        i = text.find(q, i + 1)
    return out


def _covered_by(occ: NumberOccurrence, spans: Sequence[tuple[int, int]]) -> bool:
    return any(a <= occ.start and occ.end <= b for a, b in spans)


def missing_quotes(seed_text: str, claims: Sequence[Claim] | None = None) -> list[str]:
    """Ids of claims whose quote is not found verbatim (normalised) in their section."""
    claims = load_registry() if claims is None else claims
    texts = {s: section_text(seed_text, s) for s in SECTIONS}  # type: ignore[arg-type]
    return [c.id for c in claims if not _spans(texts[c.section], c.quote)]


def uncovered_numbers(
    seed_text: str,
    section: Section,
    claims: Sequence[Claim] | None = None,
    exclusions: tuple[Sequence[Exclusion], Sequence[ExclusionRule]] | None = None,
) -> list[NumberOccurrence]:
    """Numbers of a seed section that no claim quote and no exclusion accounts for.

    An occurrence is accounted for when it lies inside the quote of a claim of that section
    whose ``numbers`` list its token, or inside the context of an exclusion for that token, or
    inside the ``number`` group of an exclusion rule's match.
    """
    claims = load_registry() if claims is None else claims
    occ_ex, rules = load_exclusions() if exclusions is None else exclusions
    text = section_text(seed_text, section)
    covered: list[tuple[str, list[tuple[int, int]]]] = []
    for c in claims:
        if c.section != section:
            continue
        spans = _spans(text, c.quote)
        for token in c.numbers:
            covered.append((token.lower(), spans))
    for e in occ_ex:
        if e.section == section:
            covered.append((e.value.lower(), _spans(text, e.context)))
    rule_spans = [
        (m.start("number"), m.end("number"))
        for r in rules
        for m in re.finditer(r.pattern, text)
        if m.group("number") is not None
    ]
    missing = []
    for occ in number_occurrences(text):
        tok = occ.token.lower()
        if any(tok == t and _covered_by(occ, spans) for t, spans in covered):
            continue
        if _covered_by(occ, rule_spans):
            continue
        missing.append(occ)
    return missing
