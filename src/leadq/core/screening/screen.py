"""The prompt-injection screen: which fields of a lead try to steer the model, and how.

Every free-text field is read as written and in the forms an attacker uses to get past a
keyword list: look-alike and full-width letters and signs (NFKC and a confusables fold; a tag
in look-alikes of `<` and `>` is a tag, `vocabulary.LESS_THAN_SIGNS`), leetspeak and
punctuation between words (emails, URLs), letters spaced apart, and base64, hex,
URL-encoded, escaped or HTML-entity text, decoded. Hidden Unicode (tag characters, bidi
controls, runs of zero-width characters) is a signal of its own: the lead's schema strips it
and keeps the raw text for this screen (`LeadInput.raw_hidden`).

Speed: a lead is read as one text with a few byte-level passes (translations, one split into
words, set intersections with the rules' trigger words, one regex for literal triggers).
Only rules whose triggers occur run their regex, and only a lead where one matches, or that
holds encoded or hidden text, is read field by field to say where."""

from __future__ import annotations

import base64
import binascii
import html
import operator
import re
import string
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote_plus

from leadq.core.lead import LEAD_FIELDS, LeadInput
from leadq.core.screening.vocabulary import (
    AS_WRITTEN,
    CASED_LABELS,
    ROLE_LABEL_CASED,
    RULES,
    SQUASHED,
)

SIGNAL_TEXT = {
    "override": "instructions to ignore or change the rules",
    "role_tag": "fake role or system tags",
    "score_demand": "a demand for a score or action",
    "prompt_leak": "a request for the system prompt",
    "markup": "script or image markup",
    "hidden_unicode": "hidden Unicode characters",
    "encoded": "an encoded blob",
}
SCREENED = tuple(f for f in LEAD_FIELDS if f != "lead_id")  # what reaches the model
_screened = operator.attrgetter(*SCREENED)
BLOB_MIN = 24  # characters of base64/hex worth decoding (18 bytes)
LONG_BLOB = 200  # characters of base64/hex that are suspicious whatever they decode to
ZERO_WIDTH_RUN = 4  # zero-width characters in one field (an emoji ZWJ or two is no attack)
MAX_DEPTH = 2  # decoding inside decoding


def _is_word(trigger: str) -> bool:
    """A word or phrase (Latin letters and spaces), as opposed to a literal."""
    return all(c == " " or (c.isalpha() and ord(c) < 0x250) for c in trigger)


# (signal, regex, whether it reads the text as written rather than the folded words)
_RULES = [
    (
        signal,
        re.compile(regex, re.MULTILINE),
        regex in AS_WRITTEN or not all(map(_is_word, triggers)),
    )
    for signal, triggers, regex in RULES
]


def _index() -> tuple[dict[bytes, set[int]], dict[bytes, set[int]], dict[bytes, set[int]]]:
    """Each trigger as UTF-8 -> the rules it calls: words, phrases and literals."""
    words: dict[bytes, set[int]] = {}
    phrases: dict[bytes, set[int]] = {}
    literals: dict[bytes, set[int]] = {}
    for i, (_, triggers, _) in enumerate(RULES):
        for trigger in triggers:
            if not _is_word(trigger):
                literals.setdefault(trigger.encode(), set()).add(i)
            elif " " in trigger:
                phrases.setdefault(trigger.encode(), set()).add(i)
            else:
                words.setdefault(trigger.encode(), set()).add(i)
    return words, phrases, literals


_WORDS, _PHRASES, _LITERALS = _index()
# A phrase is looked for only when its key word is in the text: its longest word that is
# not a stop word (the rarest, as a rule).
_STOP = frozenset(b"the to for a an as is on you are if of do not me us it this your set".split())
_PHRASE_KEYS: dict[bytes, list[tuple[bytes, set[int]]]] = {}
for _phrase, _rules in _PHRASES.items():
    _key = max(_phrase.split(), key=lambda w: (w not in _STOP, len(w)))
    _PHRASE_KEYS.setdefault(_key, []).append((b" %s " % _phrase, _rules))
_KEYS = frozenset(_WORDS) | frozenset(_PHRASE_KEYS)  # the words worth a look
# One search finds the ASCII literals, and the marks that need a closer look: backslash
# escapes and HTML entities. (Upper-case role labels are looked for on their own: upper-case
# letters are too common a first byte for that search.)
_MARKS = (b"\\", b"&#")
_SYSTEM, _ASSISTANT, _DEVELOPER = (label.encode() for label in CASED_LABELS)
_ASCII_LITERALS = re.compile(
    b"|".join(re.escape(k) for k in (*sorted(k for k in _LITERALS if k.isascii()), *_MARKS))
)
_OTHER_LITERALS = re.compile(b"|".join(re.escape(k) for k in _LITERALS if not k.isascii()))

# Folding, byte by byte: ASCII letters lower-cased, leetspeak digits as letters, ASCII
# punctuation as spaces; bytes of other characters (UTF-8) unchanged.
_PUNCT = string.punctuation.replace("$", "").encode()
_LOWER = bytes.maketrans(string.ascii_uppercase.encode(), string.ascii_lowercase.encode())
_FOLD = bytes.maketrans(
    string.ascii_uppercase.encode() + b"013457$" + _PUNCT,
    string.ascii_lowercase.encode() + b"oieasts" + b" " * len(_PUNCT),
)
# Latin look-alikes in Cyrillic and Greek (NFKC already folds full-width and math letters).
_CONFUSABLES = [
    (a.encode(), b.encode())
    for a, b in zip("аеорсухіјѕԁɡӏνοαεικτυχρ", "aeopcyxijsdglvoaeiktuxp", strict=True)
]
_CYRILLIC_GREEK = re.compile(b"[\xc9\xce\xcf\xd0\xd1\xd3\xd4]")  # their UTF-8 lead bytes
# Letters as "a", spaces kept, the rest "x": single letters spaced apart are then " a a a".
_LETTERS = bytes(
    ord("a") if chr(c).isalpha() and c < 128 else c if c == 32 else ord("x") for c in range(256)
)
_SPACED_HINT = b" a a a a a a "
_SPACED_RUN = re.compile(r"(?:\b\w[ .\-_*|/\\]{1,3}){5,}\w\b")
_SPACING = re.compile(r"[ .\-_*|/\\]+")
# Base64 and hex characters as "a", the rest as spaces: a blob is then a run of "a"s.
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
_AS_BLOB = bytes(ord("a") if c in _B64 else ord(" ") for c in range(256))
_BLOB_RUN = b"a" * BLOB_MIN
_BLOB = re.compile(rf"[A-Za-z0-9+/]{{{BLOB_MIN},}}={{0,2}}|[A-Za-z0-9_-]{{{BLOB_MIN},}}={{0,2}}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_TAGS = re.compile("[\U000e0000-\U000e007f]")
_ZERO_WIDTH = re.compile("[\u180e\u200b-\u200d\u2060-\u2064\ufeff]")


@dataclass(frozen=True)
class Finding:
    """What the screen found: the fields at fault and the signals in each."""

    hits: tuple[tuple[str, tuple[str, ...]], ...]  # (field, signals), in field order

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(field for field, _ in self.hits)

    @property
    def signals(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for _, signals in self.hits for s in signals))

    def reason(self) -> str:
        """One line for a person: where, and what kind of steering."""
        parts = [
            f"{field} ({', '.join(SIGNAL_TEXT[s] for s in signals)})"
            for field, signals in self.hits
        ]
        return "Suspected prompt injection in " + "; ".join(parts)


class _Reading(NamedTuple):
    """A text read once: lower-cased, folded (words only, one space apart, look-alikes as
    Latin letters), as UTF-8; the rules its triggers call for; and whether it has shapes
    worth a closer look (blobs, escapes, spaced letters, upper-case role labels)."""

    low: bytes
    folded: bytes
    rules: set[int]
    shapes: bool

    def signals(self) -> dict[str, None]:
        """The signals of the rules that match, in rule order."""
        return dict.fromkeys(self.matching())

    def matching(self) -> Iterator[str]:
        """The signal of each rule that matches, in rule order, each signal once; lazily,
        so asking whether any matches stops at the first."""
        if self.rules:
            found: set[str] = set()
            low, folded = self.low.decode(), self.folded.decode()
            for rule in sorted(self.rules):
                signal, pattern, as_written = _RULES[rule]
                if signal not in found and pattern.search(low if as_written else folded):
                    found.add(signal)
                    yield signal


def _read(text: str) -> _Reading:
    raw = text.encode()
    ascii_only = raw.isascii()
    if ascii_only:
        low = latin = raw.translate(_LOWER)
    else:
        low = latin = unicodedata.normalize("NFKC", text).lower().encode()
        if _CYRILLIC_GREEK.search(low):
            for look_alike, letter in _CONFUSABLES:
                latin = latin.replace(look_alike, letter)
    spaced = latin.translate(_FOLD)
    words = spaced.split()
    folded = b" %s " % b" ".join(words)
    rules: set[int] = set()
    for key in _KEYS.intersection(words):
        rules.update(_WORDS.get(key, ()))
        for phrase, called in _PHRASE_KEYS.get(key, ()):
            if phrase in folded:
                rules |= called
    marked = False
    # In the text as NFKC reads it (as written, if ASCII): full-width signs are ASCII there.
    if _ASCII_LITERALS.search(low):
        for match in _ASCII_LITERALS.finditer(low):
            literal = _LITERALS.get(match.group())
            if literal is None:  # a mark, not a literal
                marked = True
            else:
                rules |= literal
    if not ascii_only:
        for match in _OTHER_LITERALS.finditer(low):
            rules |= _LITERALS[match.group()]
    shapes = (
        marked
        or _BLOB_RUN in raw.translate(_AS_BLOB)
        or _SPACED_HINT in folded.translate(_LETTERS)
        or raw.count(b"%") >= 6
        or _SYSTEM in raw
        or _ASSISTANT in raw
        or _DEVELOPER in raw
    )
    return _Reading(low, folded, rules, shapes)


def scan(text: str, depth: int = 0) -> list[str]:
    """The signals in one text, in rule order (empty when it reads as an ordinary lead)."""
    reading = _read(text)
    found = reading.signals()
    if reading.shapes:
        runs = (_SPACING.sub("", m.group()) for m in _SPACED_RUN.finditer(reading.low.decode()))
        if "override" not in found and any(SQUASHED.search(run) for run in runs):
            found["override"] = None
        if ROLE_LABEL_CASED.search(text):
            found["role_tag"] = None
        if depth < MAX_DEPTH and any(
            long or scan(decoded, depth + 1) for decoded, long in _decoded(text)
        ):
            found["encoded"] = None
    return list(found)


def _decoded(text: str) -> Iterable[tuple[str, bool]]:
    """Text hidden in encodings, each with whether its blob is long enough to flag as it is."""
    for match in _BLOB.finditer(text):
        blob = match.group()
        yield _decode_blob(blob), len(blob) >= LONG_BLOB
    if text.count("%") >= 6:
        yield unquote_plus(text), False
    if "\\x" in text or "\\u" in text:
        yield _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text), False
    if "&#" in text:
        yield html.unescape(text), False


def _decode_blob(blob: str) -> str:
    """The readable text a hex or base64 blob stands for ("" if it is not text)."""
    try:
        if len(blob) % 2 == 0 and _HEX.fullmatch(blob):
            data = bytes.fromhex(blob)
        else:
            altchars = b"-_" if "-" in blob or "_" in blob else None
            data = base64.b64decode(blob + "=" * (-len(blob) % 4), altchars=altchars)
        text = data.decode("utf-8")
    except (ValueError, binascii.Error):
        return ""
    readable = sum(c.isprintable() or c in "\n\t" for c in text)
    return text if readable >= 0.9 * len(text) else ""


def hidden_signal(raw: str) -> bool:
    """Whether the hidden characters stripped from `raw` look like smuggling: any tag
    character or bidi control, or a run of zero-width characters."""
    return bool(
        _TAGS.search(raw) or _BIDI.search(raw) or len(_ZERO_WIDTH.findall(raw)) >= ZERO_WIDTH_RUN
    )


def _with_attributes(
    texts: tuple[str | None, ...],
    attributes: dict[str, str | int | float],
    hidden: dict[str, str],
) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """The screened fields and their texts, then each attribute (`attributes.<name>`): its
    name and value a line each, as both reach the model; then each attribute that lost all
    its text as hidden characters (its raw text is in `hidden`)."""
    shown: dict[str, str | None] = {
        f"attributes.{name}": f"{name}\n{value}" for name, value in attributes.items()
    }
    for field in hidden:
        if field.startswith("attributes."):
            shown.setdefault(field, None)
    return (*SCREENED, *shown), (*texts, *shown.values())


def screen(lead: LeadInput) -> Finding | None:
    """The fields of `lead` that try to steer the model, and how; None for an ordinary lead."""
    fields, texts = SCREENED, _screened(lead)
    hidden = lead.raw_hidden
    if lead.attributes or hidden:
        fields, texts = _with_attributes(texts, lead.attributes or {}, hidden)
    if not hidden:
        whole = _read("\n".join(filter(None, texts)))
        if not whole.shapes and next(whole.matching(), None) is None:
            return None
    hits = []
    for field, text in zip(fields, texts, strict=True):
        raw = hidden.get(field)
        signals = scan(text) if text else []
        if raw is not None and hidden_signal(raw):  # a field of only hidden text is blank now
            signals.append("hidden_unicode")
        if signals:
            hits.append((field, tuple(signals)))
    return Finding(tuple(hits)) if hits else None
