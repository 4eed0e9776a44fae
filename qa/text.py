"""Words of a text as retrieval and evidence ranking count them: stemmed content terms (accents
dropped, ordinals as numbers), the stopwords they leave out, and BM25's inverse document
frequency."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable

__all__ = ["STOPWORDS", "content_terms", "idf_weight", "numeral", "without_accents"]

_WORD = re.compile(r"[^\W_][\w'’\-]*")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    might may must shall whose date kind sort type s t tell say said says told according article
    articles report reported mention
    mentioned happen happened take took place held hold name named did""".split()
)

_STEM: Callable[[str], str] | None = None


def _stemmer() -> Callable[[str], str]:
    # PyStemmer is the Snowball stemmer llama-index's BM25 retriever uses: the same stems here.
    import Stemmer

    return Stemmer.Stemmer("english").stemWord


def content_terms(text: str) -> list[str]:
    """Lower-cased, stemmed words of ``text`` without stopwords (numbers kept)."""
    global _STEM
    if _STEM is None:
        _STEM = _stemmer()
    terms = []
    for word in _WORD.findall(without_accents(text.replace("U.S.", "US"))):
        word = word.lower().strip("'’-").replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if word and word not in STOPWORDS:
            terms.append(numeral(word) or _STEM(word))
    return terms


# "The eleventh season", "the 11th season" and "season 11" state one number. "First" and
# "second" stay words: "at first", "a second time" state none.
_ORDINALS = {word: str(number) for number, word in enumerate(
    """third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth
    fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth""".split(), start=3)}
_SUFFIXED = re.compile(r"(\d+)(?:st|nd|rd|th)")


def numeral(word: str) -> str | None:
    """The number an ordinal states, in digits ("eleventh", "11th": "11"); None for any other
    word. ``word`` is lower case."""
    suffixed = _SUFFIXED.fullmatch(word)
    return suffixed.group(1) if suffixed else _ORDINALS.get(word)


def without_accents(text: str) -> str:
    """``text`` with accents dropped ("fiancée" -> "fiancee", "Jumièges" -> "Jumieges", "Laçın"
    -> "Lacin", "Xankəndi" -> "Xankendi"): a question typed without them still finds the word."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Letters that Unicode does not decompose into a base letter and an accent; and the trade mark
# signs, which it decomposes into letters ("Chronicles™" would read as "ChroniclesTM").
_UNDECOMPOSED = str.maketrans({"ı": "i", "ə": "e", "Ə": "E", "ø": "o", "Ø": "O", "ł": "l",
                               "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss", "æ": "ae", "Æ": "AE",
                               "œ": "oe", "Œ": "OE", "™": " ", "℠": " "})


def idf_weight(document_frequency: int | None, documents: int) -> float:
    """BM25's inverse document frequency; a term found nowhere weighs most. An unknown
    frequency (``None``: no keyword index to count with) weighs 1."""
    if document_frequency is None:
        return 1.0
    return math.log(1.0 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))
