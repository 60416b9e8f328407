"""Mining the reranker's weakly supervised pairs from document structure, on generated pages."""

from __future__ import annotations

import random
from pathlib import Path

from training.rerank_data import (
    Pair,
    html_pairs,
    mine_groups,
    split_by_document,
    wordnet_pairs,
)

BODY = " ".join(["words about the subject"] * 8)
SECTION_PAGE = f"""<html><body><div role="main">
<h2 class="title">5.4. Constraints</h2><p>Constraints limit the data in a table. {BODY}</p>
<h3 class="title">5.4.1. Check Constraints</h3><p>A check constraint tests a value. {BODY}</p>
<h3 class="title">Notes</h3><p>Generic heading, left out. {BODY}</p>
<h3 class="title">Why is my query slow?</h3><p>Look at the plan first. {BODY}</p>
</div></body></html>"""
REFERENCE_PAGE = f"""<html><body><div class="refnamediv"><h2>CREATE TABLE</h2>
<p>CREATE TABLE — define a new table</p></div>
<h2>Description</h2><p>CREATE TABLE will create a new, initially empty table. {BODY}</p>
</body></html>"""
GLOSSARY_PAGE = """<html><body><dl>
<dt><span class="glossterm">Analytic function</span></dt><dd><p>See Window function.</p></dd>
<dt><span class="glossterm">Tuple (row)</span></dt>
<dd><p>A collection of attributes in a fixed order, as stored in a table.</p></dd>
</dl></body></html>"""
WORDNET = (
    "  1 This software and database is being provided to you, the LICENSEE\n"
    "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived or known or "
    "inferred to have its own distinct existence (living or nonliving)\n"
)


def write_pages(root: Path) -> Path:
    root.mkdir()
    (root / "ddl-constraints.html").write_text(SECTION_PAGE)
    (root / "sql-createtable.html").write_text(REFERENCE_PAGE)
    (root / "glossary.html").write_text(GLOSSARY_PAGE)
    (root / "faq.html").write_text(SECTION_PAGE.replace("Constraints", "Secret"))
    (root / "release-15-1.html").write_text(SECTION_PAGE.replace("Constraints", "Release"))
    return root


def test_structure_gives_pairs_of_each_kind(tmp_path: Path) -> None:
    pairs = html_pairs(write_pages(tmp_path / "html"))
    found = {(p.kind, p.query): p.passage for p in pairs}
    assert found[("heading", "Check Constraints")].startswith("A check constraint tests")
    assert found[("question-heading", "Why is my query slow?")].startswith("Look at the plan")
    assert found[("name-line", "define a new table")].startswith("CREATE TABLE will create")
    assert found[("glossary", "Tuple")].startswith("A collection of attributes")
    queries = {p.query for p in pairs}
    assert "Notes" not in queries and "Analytic function" not in queries  # generic, a 'See'
    assert not any("Secret" in q or "Release" in q for q in queries)  # FAQ, release notes


def test_wordnet_gloss_is_paired_with_its_lemma_and_the_licence_is_skipped() -> None:
    (pair,) = wordnet_pairs(WORDNET, "data.noun", 10, random.Random(0))
    assert pair.query == "entity" and pair.passage.startswith("that which is perceived")


def test_groups_hold_the_positive_first_and_distinct_negatives() -> None:
    pairs = [
        Pair(f"topic {n} settings", f"topic {n} settings are stored in file {n}", f"d{n % 3}", "h")
        for n in range(12)
    ]
    groups = mine_groups(pairs, negatives=3, seed=0)
    assert len(groups) == 12
    for group, pair in zip(groups, pairs, strict=True):
        assert group.passages[0] == pair.passage and len(group.passages) == 4
        assert pair.passage not in group.passages[1:]


def test_validation_documents_are_not_trained_on() -> None:
    pairs = [Pair(f"q{n}", f"p{n}", f"doc{n % 10}", "heading") for n in range(40)]
    train, validation = split_by_document(pairs, 0.2, seed=1)
    assert validation and {p.document for p in train}.isdisjoint(p.document for p in validation)
    assert len(train) + len(validation) == len(pairs)
