"""bench/answer_scoring.py: the overlap, citation and declining rules bench/smol_rag_eval.py
scores grounded replies with, on replies of the kinds small models give."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from answer_scoring import KEY_WORDS, citations, content_words, declines, key_words, overlap

# A real FAQ answer's opening (the Python FAQ), longer than KEY_WORDS content words.
REFERENCE = (
    "Guido van Rossum believes that using indentation for grouping is extremely elegant and "
    "contributes a lot to the clarity of the average Python program. Most people learn to love "
    "this feature after a while. Since there are no begin/end brackets there cannot be a "
    "disagreement between grouping perceived by the parser and the human reader."
)


def test_content_words_drop_stopwords_and_split_code_names() -> None:
    # "joins" and "Paths" are "join" and "path" again, once each.
    words = content_words("The os.path.join() function joins the Paths")
    assert words == ["os", "path", "join", "function"]


def test_key_words_are_the_first_content_words_of_a_long_reference() -> None:
    keys = key_words(REFERENCE)
    assert len(keys) == KEY_WORDS
    assert keys[:4] == ["guido", "van", "rossum", "believe"]
    assert "reader" not in keys  # the last sentence is past the first KEY_WORDS


def test_a_reply_that_restates_the_opening_holds_the_answer() -> None:
    reply = (
        "Guido van Rossum believes indentation for grouping is elegant and contributes to the "
        "clarity of the average Python program; most people learn to love the feature [1]."
    )
    assert overlap(reply, REFERENCE) >= 0.5


def test_a_templated_reply_that_only_echoes_the_question_does_not() -> None:
    reply = "In Python, why indentation is used is described as: indentation [1]."
    assert overlap(reply, REFERENCE) < 0.5
    assert overlap("", REFERENCE) == 0.0
    assert overlap("anything", "the a of") == 0.0  # a reference without content words


def test_a_short_reference_counts_every_word() -> None:
    passage = "executed as a command prior to issuing each primary prompt"
    # Six key words (executed command prior issuing primary prompt); PROMPT_COMMAND is one word.
    reply = "PROMPT_COMMAND is executed prior to each primary prompt [2]."
    assert overlap(reply, passage) == 4 / 6


def test_citations_read_brackets_but_not_indexing() -> None:
    assert citations("Use sys.argv[1] to read it [2].", 4) == {2}
    assert citations("Both say so [1, 3] and [4][2].", 4) == {1, 2, 3, 4}
    assert citations("As [7] says.", 4) == set()  # no such source was given
    assert citations("No citation here.", 4) == set()


def test_refusals_in_the_phrasing_the_instruction_asks_for() -> None:
    assert declines("The sources don't contain the answer to this question.", 4)
    assert declines("The provided sources do not mention how to pin a node.", 3)
    assert declines("I cannot answer this from the sources given.", 2)
    assert declines(
        "I found nothing about this in the attached documents, so I cannot answer it from them.", 0
    )
    # Declining first, then saying what a source is about, still declines.
    assert declines("The sources do not say how to do that. Source [1] is about git log.", 2)


def test_answers_and_partial_answers_do_not_decline() -> None:
    assert not declines("Run git gc to pack loose objects [2].", 4)
    assert not declines("Use the -n option [1]. The sources do not say whether it is safe.", 4)
    # "not" inside an answer is no refusal.
    assert not declines("Python does not use braces; indentation groups statements [1].", 4)
    # A decline phrase later in an uncited reply is still a refusal.
    assert declines("Hmm. There is no information on that here.", 4)


def test_restating_the_question_scores_nothing() -> None:
    question = "Can I give the read builtin a default timeout so it stops waiting for input?"
    passage = "TMOUT: the default timeout for the read builtin"
    assert "timeout" in key_words(passage) and "timeout" not in key_words(passage, question)
    echo = "No, you cannot give the read builtin a default timeout so it stops waiting [1]."
    assert overlap(echo, passage) >= 0.5  # without the question, the echo would pass
    assert overlap(echo, passage, question) == 0.0
    answer = "Set TMOUT to a value greater than zero [1]."
    assert overlap(answer, passage, question) >= 0.5
    # A reference made only of question words keeps them as its key words.
    assert key_words("default timeout", question) == ["default", "timeout"]
