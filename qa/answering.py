"""The answer step: retrieved passages → an answer whose every claim cites a verified quote.

One path for every backend, for ``ask``, chat follow-ups and streaming alike:
retrieve → rank evidence sentences → decide answerability → (generate) → verify → Answer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from qa.answer import ABSTAIN_TEXT, Answer, Citation
from qa.backends.base import Message, TextGenerator
from qa.chunking import token_count
from qa.citations import MARKER, quote_is_verbatim
from qa.constraints import question_constraints, unmet_constraints
from qa.dates import (
    DateMention,
    annotate_weekdays,
    dateline,
    find_dates,
    format_date,
    resolved_day_offsets,
    resolved_weekdays,
    with_year,
)
from qa.embedding import MiniLMEmbedding
from qa.errors import AnswerInterruptedError, InvalidQuestionError
from qa.evidence import (
    Evidence,
    QuestionProfile,
    candidate_sentences,
    profile_question,
    quoted_phrases,
    with_antecedent,
    with_follow_on,
)
from qa.ranking import EvidenceRanker
from qa.resources import load_prompt
from qa.retrieval import HybridRetriever, Passage
from qa.sentences import sentence_spans
from qa.settings import Settings
from qa.slots import answers_beside_anchor
from qa.text import content_terms
from qa.verification import SentenceCheck, check_sentence

__all__ = ["Answerer", "Turn", "validate_question"]

_FOLLOW_UP = re.compile(
    r"\b(they|them|their|theirs|it|its|there|he|she|him|his|her|those|these|that|this|"
    r"the same|then)\b", re.IGNORECASE)
_ABSTAINS = re.compile(
    r"(don'?t|do not|does not|doesn'?t) (say|mention|contain|state|specify|provide)|"
    r"no information|not (mentioned|provided|stated|specified|available)|"
    r"can(no|')t (answer|be determined|determine)|unable to", re.IGNORECASE)
_SECOND_SENTENCE_RATIO = 0.92
_DEGENERATE_REPEATS = 3
_LEADING_LABEL = re.compile(r"^\s*(?:the answer is|answer)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Turn:
    """One exchange of a chat: the question asked and the answer given."""

    question: str
    answer: Answer


@dataclass
class _Context:
    """What retrieval found for a question, and whether it holds an answer."""

    question: str
    profile: QuestionProfile
    passages: list[Passage]
    evidence: list[Evidence]
    answerable: bool
    notes: list[str] = field(default_factory=list)
    quotable: bool = True  # the best sentence itself answers: the extractive answer may be given
    read: list[Passage] = field(default_factory=list)  # of the passages, those a model is shown


def validate_question(question: object, max_chars: int) -> str:
    """The question stripped, or InvalidQuestionError when it is not a usable question."""
    if not isinstance(question, str):
        raise InvalidQuestionError(f"the question must be text, not {type(question).__name__}")
    stripped = question.strip()
    if not stripped:
        raise InvalidQuestionError("the question is empty; ask something about the articles")
    try:
        stripped.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from a JSON "\ud800" escape
        raise InvalidQuestionError(
            f"the question is not valid text (character {exc.start + 1} is half of a UTF-16 "
            "surrogate pair); send it as UTF-8") from None
    if len(stripped) > max_chars:
        raise InvalidQuestionError(
            f"the question is {len(stripped):,} characters long; the limit is {max_chars:,} "
            "(QA_MAX_QUESTION_CHARS)"
        )
    return stripped


class Answerer:
    """Answers questions from a retriever, with an optional text generator."""

    def __init__(self, settings: Settings, retriever: HybridRetriever,
                 embed_model: MiniLMEmbedding, generator: TextGenerator | None,
                 ranker: EvidenceRanker) -> None:
        self.settings = settings
        self.retriever = retriever
        self.embed_model = embed_model
        self.generator = generator
        self.ranker = ranker
        self.backend = generator.name if generator else "extractive"

    # --- the one path ----------------------------------------------------------------------
    def stream(self, question: str, history: Sequence[Turn] = ()) -> Iterator[str | Answer]:
        """Yield pieces of the answer text as they are produced, then the verified Answer.

        The final Answer's text is authoritative: verification may have repaired what was
        streamed (``Answer.repaired``).
        """
        question = validate_question(question, self.settings.max_question_chars)
        context = self._context(question, history)
        if not context.answerable:
            answer = Answer(question, ABSTAIN_TEXT, [], True, self.backend, notes=context.notes)
            yield answer.text
            yield answer
            return
        if self.generator is None:
            answer = self._extractive(context)
            yield answer.text
            yield answer
            return
        pieces: list[str] = []
        try:
            for piece in self.generator.stream(self._messages(context, history)):
                pieces.append(piece)
                yield piece
        except AnswerInterruptedError as error:
            yield self._interrupted(context, error)
            return
        yield self._verified(context, "".join(pieces))

    def ask(self, question: str, history: Sequence[Turn] = ()) -> Answer:
        """The verified answer, all at once."""
        final = None
        for item in self.stream(question, history):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def passages_read(self, question: str, history: Sequence[Turn] = ()) -> list[Passage]:
        """The passages the answer step reads for ``question``, best first: those holding its
        best-ranked sentences (with a model, those of them the model is shown)."""
        return self._context(validate_question(question, self.settings.max_question_chars),
                             history).read

    # --- retrieval and evidence ------------------------------------------------------------
    def _context(self, question: str, history: Sequence[Turn]) -> _Context:
        profile = profile_question(question)
        query = question
        notes: list[str] = []
        recent = [turn.question for turn in history[-self.settings.history_turns:]] \
            if self.settings.history_turns else []
        if recent and (_FOLLOW_UP.search(question) or len(profile.terms) <= 1):
            previous = history[-1]
            # What the previous answer quoted is verified article text; its own words may be a
            # model's, and pull retrieval toward whatever the model added.
            said = "" if previous.answer.abstained else (
                " ".join(c.quote for c in previous.answer.citations)
                or MARKER.sub("", previous.answer.text))
            query = f"{previous.question} {said} {question}"
            extra = tuple(t for t in content_terms(f"{previous.question} {said}")
                          if t not in profile.terms)
            # Similarity is to the two questions: the previous answer would pull toward itself.
            # What the previous question stated (its year, its day, its names) still holds.
            earlier = tuple(c for c in question_constraints(previous.question)
                            if c not in profile.constraints)
            profile = replace(profile, context_terms=tuple(dict.fromkeys(extra)),
                              search_text=f"{previous.question} {question}",
                              constraints=profile.constraints + earlier)
            notes.append(f"follow-up: read with the previous question {previous.question!r}")
        # Sentence ranking reranks a wider pool than the answer step shows.
        pool = self.retriever.retrieve(query, max(self.settings.top_k, self.settings.rerank_pool))
        # A quoted phrase is an exact lookup: also search for it alone, so that a quote made of
        # common words is not outranked by passages sharing the rest of the question.
        for phrase in quoted_phrases(question):
            seen = {p.chunk_id for p in pool}
            pool += [p for p in self.retriever.retrieve(phrase, 2) if p.chunk_id not in seen]
        evidence = self.ranker.rank(profile, candidate_sentences(pool))
        if _misses_its_period(profile, evidence):
            # "Who was awarded the 2018 Nobel Prize?" over passages about 2019 and 2021 that
            # repeat its words: the passage about 2018 may rank a little deeper.
            seen = {p.chunk_id for p in pool}
            deeper = [p for p in self.retriever.retrieve(query, self.settings.period_search_depth)
                      if p.chunk_id not in seen]
            ranked = self.ranker.rank(profile, candidate_sentences(pool + deeper))
            if ranked and ranked[0].slot and ranked[0].meets_period:
                pool, evidence = pool + deeper, ranked
        # With a model to read the passages, relevant passages are enough to ask it; without
        # one, the best sentence itself must answer.
        quotable = self.ranker.answerable(profile, evidence)
        answerable = (self.ranker.relevant(profile, evidence) if self.generator is not None
                      else quotable)
        shown = _best_passages(_meeting_period(pool, profile), evidence, self.settings.top_k)
        return _Context(question, profile, shown, evidence, answerable, notes, quotable,
                        self._passages_for_model(shown))

    # --- extractive ------------------------------------------------------------------------
    def _extractive(self, context: _Context, repaired: bool = False,
                    notes: Sequence[str] = ()) -> Answer:
        if not context.quotable:  # a fallback, where no sentence answers well enough to quote
            return Answer(context.question, ABSTAIN_TEXT, [], True, self.backend, repaired,
                          list(context.notes) + list(notes) + [
                              "no sentence answers well enough to quote instead; abstained"])
        first = context.evidence[0]
        best = with_follow_on(with_antecedent(first, self.retriever.previous_passage(first.passage)))
        chosen = [best]
        for other in context.evidence[1:]:
            if other.score < best.score * _SECOND_SENTENCE_RATIO:
                break
            if other.passage.article_id != best.passage.article_id and other.type_match:
                chosen.append(other)
                break
        citations = [_citation(n, e) for n, e in enumerate(chosen, start=1)]
        parts = [f"{_with_resolved_weekdays(e)} [{n}]" for n, e in enumerate(chosen, start=1)]
        lead = _lead(context, best)
        text = (f"{lead} — " if lead else "") + " ".join(parts)
        return Answer(context.question, text, citations, False, "extractive", repaired,
                      list(context.notes) + list(notes))

    # --- generative ------------------------------------------------------------------------
    def _messages(self, context: _Context, history: Sequence[Turn]) -> list[Message]:
        prompts = self.settings.prompts_dir
        passage_template = load_prompt(prompts, "passage")
        read = self.generator.passage_sentences if self.generator else 0
        shown = "\n".join(
            passage_template.format(
                number=n, title=p.title,
                published=p.published.isoformat() if p.published else "unknown",
                text=annotate_weekdays(_passage_text(p, context.evidence, read), p.published),
            ).strip()
            for n, p in enumerate(context.read, start=1)
        )
        system = load_prompt(prompts, "answer_system").strip()
        messages: list[Message] = [{"role": "system", "content": system}]
        for turn in history[-self.settings.history_turns:] if self.settings.history_turns else []:
            messages.append({"role": "user", "content": turn.question})
            messages.append({"role": "assistant", "content": MARKER.sub("", turn.answer.text)})
        messages.append({"role": "user", "content": load_prompt(prompts, "answer_user").format(
            passages=shown, question=context.question).strip()})
        return messages

    def _passages_for_model(self, passages: list[Passage]) -> list[Passage]:
        """The first of ``passages`` that the model reads: at most its ``max_passages``, and
        within its ``passage_tokens`` budget when it has one (all of them without a model)."""
        if self.generator is None:
            return passages
        chosen = passages[:self.generator.max_passages]
        budget = self.generator.passage_tokens
        if not budget:
            return chosen
        read: list[Passage] = []
        used = 0
        for passage in chosen:
            used += token_count(passage.text)
            if read and used > budget:
                break
            read.append(passage)
        return read

    def _interrupted(self, context: _Context, error: AnswerInterruptedError) -> Answer:
        """The extractive answer, saying why, when the model stopped half-way through its
        answer (what it wrote so far is unfinished and unchecked); the error itself when no
        sentence answers well enough to quote."""
        if not context.quotable:
            raise error
        answer = self._extractive(context, repaired=True, notes=[f"interrupted: {error}"])
        return replace(answer, warning=f"{str(error)[:1].upper()}{str(error)[1:]}. This is the "
                                       "extractive answer instead: verbatim sentences from the articles.")

    def _check(self, sentence: str, cited: list[int], context: _Context) -> SentenceCheck:
        return check_sentence(sentence, cited, context.passages, context.evidence,
                              context.question, self.embed_model.embed,
                              context.profile.constraints)

    def _supporting_passage(self, failed: SentenceCheck,
                            context: _Context) -> SentenceCheck | None:
        """The check of a sentence its cited passages do not support, against the first
        other passage the model read that supports it in full; None if none does.

        When the cited quote states a date or number of its own, the claim may contradict it
        (a planted "11th century" against "10th century"), so the other passage's quote must
        also rank above the cited one as an answer to the question. A failed negation is
        never re-cited."""
        if any(problem.startswith("a negation") for problem in failed.problems):
            return None
        cited_rank = min((_evidence_rank(q, context.evidence) for q in failed.quotes),
                         default=len(context.evidence))
        contradicted = any(re.search(r"\d", q.text) for q in failed.quotes)
        for n in range(1, len(context.read) + 1):
            if n not in failed.cited:
                check = self._check(failed.sentence, [n], context)
                if check.supported and (not contradicted or min(
                        _evidence_rank(q, context.evidence) for q in check.quotes) < cited_rank):
                    return check
        return None

    def _verified(self, context: _Context, generated: str) -> Answer:
        """Check a generated answer sentence by sentence (``qa.verification``): keep what its
        passages support, drop the rest, and fall back to the extractive answer when nothing
        is left (or abstain, when no sentence answers well enough to quote)."""
        generated = _LEADING_LABEL.sub("", generated.strip())
        if not generated:
            return self._extractive(context, repaired=True,
                                    notes=["the model wrote nothing; extractive answer given"])
        if _ABSTAINS.search(generated):
            # Small models say so too readily (Qwen 1.5B, of the Blair House passage): a
            # sentence that answers well enough to quote is given instead; else qa abstains.
            return self._extractive(context, repaired=True, notes=[
                "the model found no answer in the passages; extractive answer given"])
        sentences = [generated[start:end].strip() for start, end in sentence_spans(generated)]
        bares = [MARKER.sub("", sentence).strip() for sentence in sentences]
        if any(count >= _DEGENERATE_REPEATS for count in Counter(bares).values()):
            # A small model caught in a loop (SmolLM2 wrote "The answer is: [1]" thirty times,
            # citing an article that says "The answer is 42"): nothing it wrote is an answer.
            return self._extractive(context, repaired=True, notes=[
                "the model repeated itself; extractive answer given"])
        checks = []
        dropped: list[str] = []
        kept_sentences: set[str] = set()
        repaired = False
        for sentence, bare in zip(sentences, bares):
            cited = sorted({int(n) for n in MARKER.findall(sentence)
                            if 1 <= int(n) <= len(context.passages)})
            if not content_terms(bare):
                continue
            if bare.endswith(":") or bare in kept_sentences:
                # "The answer is:" introduces a claim and makes none; a repeat adds none.
                repaired = True
                why = "a repeat" if bare in kept_sentences else "it states nothing"
                dropped.append(f"dropped {bare!r}: {why}")
                continue
            kept_sentences.add(bare)
            if not cited:
                repaired = True
                cited = _best_passage_for(bare, context.passages)
                if not cited:
                    dropped.append(f"dropped {bare!r}: it cites no passage and none holds it")
                    continue
            check = self._check(bare, cited, context)
            if not check.supported:
                # Small models often number a citation wrong ("[1]" for what passage 2 says):
                # the sentence is kept when another passage shown passes every check in full.
                recited = self._supporting_passage(check, context)
                if recited is not None:
                    dropped.append(f"cited {recited.cited} instead of {cited} for {bare!r}: "
                                   f"{'; '.join(check.problems)}")
                    check = recited
            dropped += check.repairs
            repaired = repaired or bool(check.repairs)
            if not check.supported:
                repaired = True
                dropped.append(f"dropped {check.sentence!r}: {'; '.join(check.problems)}")
                continue
            checks.append(check)
        if not checks:
            return self._extractive(context, repaired=True, notes=dropped + [
                "the generated answer was not supported by its passages; extractive answer given"])
        citations: list[Citation] = []
        marker_of: dict[tuple[str, int, int], int] = {}
        parts: list[str] = []
        for check in checks:
            markers = []
            for quote in check.quotes:
                key = (quote.passage.article_id, quote.start, quote.end)
                if key not in marker_of:
                    marker_of[key] = len(citations) + 1
                    citations.append(_citation(marker_of[key], quote))
                markers.append(marker_of[key])
            parts.append(_with_years(context, check) + " "
                         + "".join(f"[{m}]" for m in dict.fromkeys(markers)))
        citations = [c for c in citations if quote_is_verbatim(c, context.passages)]
        return Answer(context.question, " ".join(parts), citations, False, self.backend,
                      repaired, list(context.notes) + dropped)


def _misses_its_period(profile: QuestionProfile, evidence: list[Evidence]) -> bool:
    """Whether the question states a year, decade, century or quarter and has an anchor ("who
    was awarded", "when was X released"), and no ranked sentence of a passage meeting that
    period holds its answer beside the anchor."""
    return (profile.anchor is not None and any(c.temporal for c in profile.constraints)
            and not any(e.slot and e.meets_period for e in evidence))


def _meeting_period(pool: list[Passage], profile: QuestionProfile) -> list[Passage]:
    """The passages that meet the year, decade, century or quarter the question states (all
    of them when none does, or when it states none)."""
    temporal = [c for c in profile.constraints if c.temporal]
    if not temporal:
        return pool
    meeting = [p for p in pool if not unmet_constraints(temporal, p.text, p.title, p.published)]
    return meeting or pool


def _best_passages(pool: list[Passage], evidence: list[Evidence], top_k: int) -> list[Passage]:
    """The ``top_k`` passages of ``pool`` holding the best-ranked sentences, best first."""
    allowed = {p.chunk_id for p in pool}
    chosen: dict[str, Passage] = {}
    for item in (e for e in evidence if e.passage.chunk_id in allowed):
        chosen.setdefault(item.passage.chunk_id, item.passage)
        if len(chosen) == top_k:
            break
    for passage in pool:
        if len(chosen) == top_k:
            break
        chosen.setdefault(passage.chunk_id, passage)
    return list(chosen.values())


def _passage_text(passage: Passage, evidence: list[Evidence], best: int) -> str:
    """The passage's text, or (``best`` > 0) only its sentences among the ``best`` top-ranked
    evidence sentences, in reading order (its own best sentence when none of them is in it)."""
    if best <= 0:
        return passage.text
    own = [e for e in evidence if e.passage.chunk_id == passage.chunk_id]
    chosen = [e for e in own if any(e is top for top in evidence[:best])] or own[:1]
    spans = sorted((e.start - passage.start, e.end - passage.start) for e in chosen)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return " … ".join(passage.text[start:end] for start, end in merged) or passage.text


def _citation(marker: int, evidence: Evidence) -> Citation:
    passage = evidence.passage
    return Citation(marker, passage.article_id, passage.title, passage.published,
                    evidence.text, evidence.start, evidence.end)


def _with_resolved_weekdays(evidence: Evidence) -> str:
    return annotate_weekdays(evidence.text, evidence.passage.published)


def _lead(context: _Context, best: Evidence) -> str:
    """A short answer before the sentence, for date questions: the date the sentence gives,
    with its year from the article's date when the sentence gives none ("premieres Nov. 15" in
    a report of Nov 12, 2020: "November 15, 2020"); for an amount, the one beside the word
    asked about ("$6.3 billion")."""
    anchor = context.profile.anchor
    if anchor is not None and anchor.amount:  # "$6.3 billion — Tesla reported revenue of ..."
        beside = answers_beside_anchor(anchor, best.text, context.question)
        return best.text[beside[0][0]:beside[0][1]] if beside else ""
    if context.profile.answer_type != "date":
        return ""
    mention = _lead_date(context, best)
    if mention is None:
        return ""
    written = _written(context, best) if mention.year is None else None
    return format_date(with_year(mention, written), weekday=False) if written else mention.text


def _with_years(context: _Context, check: SentenceCheck) -> str:
    """A generated answer to "when" with each date it writes without a year given one, as
    ``_lead`` does: the year its quote states for that day, or else the nearest such day to
    when the quote's article was written ("released on September 20th", quoted from a snippet
    of Sep 10, 2019: "September 20, 2019"). Ranges are left as written."""
    sentence = check.sentence
    if context.profile.answer_type != "date":
        return sentence
    for mention in reversed(find_dates(sentence)):
        if mention.year is not None or mention.last_day is not None:
            continue
        for quote in check.quotes:
            stated = [m for m in find_dates(quote.text) if m.matches(mention) and m.last_day is None]
            if not stated:
                continue
            dated = next((m for m in stated if m.year is not None), None)
            written = None if dated else _written(context, quote)
            if dated or written:
                day = (date(dated.year, dated.month, dated.day) if dated
                       else with_year(mention, written))
                sentence = (sentence[:mention.start] + format_date(day, weekday=False)
                            + sentence[mention.end:])
                break
    return sentence


def _lead_date(context: _Context, best: Evidence) -> DateMention | None:
    """The date ``_lead`` gives: a date the sentence writes, or a weekday it names resolved."""
    # The date beside the question's verb ("will release on March 3, 2017"), not the date a
    # snippet opens with ("Jan 12, 2017 ... Nintendo has revealed that ...").
    beside = answers_beside_anchor(context.profile.anchor, best.text, context.question)
    if beside:
        start, end = beside[0]
        return next(iter(find_dates(best.text[start:end])), None)
    asked = {(m.month, m.day) for m in find_dates(context.question)}
    # The text before the sentence, from every retrieved passage of its article, nearest last.
    same_article = sorted((p for p in _retrieved_of_article(context, best) if p.start < best.start),
                          key=lambda p: (p.start, p.end))
    before = "\n".join(p.text[:best.start - p.start] for p in same_article)
    for _, resolved in resolved_day_offsets(best.text, before):
        if (resolved.month, resolved.day) not in asked:
            return resolved
    for mention in find_dates(best.text):
        if (mention.month, mention.day) not in asked:
            return mention
    for weekday in resolved_weekdays(best.text, best.passage.published):
        if weekday.text.lower() not in context.question.lower():
            day = weekday.day
            return DateMention(format_date(day), weekday.start, weekday.end, day.month, day.day,
                               day.year)
    return None


def _written(context: _Context, best: Evidence) -> date | None:
    """When the article of ``best`` was written: its publication date, or else the dated line
    its text opens with ("Nov 12, 2020 ..."), when a retrieved passage holds its opening."""
    if best.passage.published is not None:
        return best.passage.published
    opening = next((p for p in _retrieved_of_article(context, best) if p.start == 0), None)
    return dateline(opening.text) if opening is not None else None


def _retrieved_of_article(context: _Context, best: Evidence) -> list[Passage]:
    """The retrieved passages of the article ``best`` is from, each once (its own first)."""
    passages = [best.passage] + context.passages + [e.passage for e in context.evidence]
    return list({p.chunk_id: p for p in passages if p.article_id == best.passage.article_id}.values())


def _evidence_rank(quote: Evidence, evidence: Sequence[Evidence]) -> int:
    """The rank of the best-ranked sentence inside ``quote`` (``len(evidence)`` if none)."""
    return next((rank for rank, e in enumerate(evidence) if e.lies_within(quote)),
                len(evidence))


def _best_passage_for(sentence: str, passages: Sequence[Passage]) -> list[int]:
    """The passage sharing most terms with an uncited generated sentence (if it shares half)."""
    terms = set(content_terms(sentence))
    if not terms:
        return []
    overlaps = [len(terms & set(content_terms(p.text))) for p in passages]
    best = max(range(len(passages)), key=overlaps.__getitem__, default=None)
    if best is None or overlaps[best] < max(1, len(terms) // 2):
        return []
    return [best + 1]
