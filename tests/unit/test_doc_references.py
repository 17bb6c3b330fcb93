"""The product docs point only at what the repository has, and name the source article in one place.

Product docs: the README, docs/ (Markdown and the AWX files), the roles' READMEs and argument specs,
the modules' and doc fragments' documentation, and the playbooks' comments. Every relative Markdown
link resolves (a heading anchor included), every repository path they quote exists, no design notes
from outside the repository are cited, and the article the collection automates is named (title and
address) only in the README's section about it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.lab_support import REPO

MARKDOWN = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "roles").glob("*/README.md")])
OTHER = sorted([*(REPO / "docs" / "awx").rglob("*.yml"), *(REPO / "roles").glob("*/meta/argument_specs.yml"),
                *(REPO / "plugins" / "modules").glob("*.py"), *(REPO / "plugins" / "doc_fragments").glob("*.py"),
                *(REPO / "playbooks").glob("*.yml")])
TOP_DIRS = ("docs", "plugins", "roles", "playbooks", "tests", "lab", "bench", "scripts", "molecule", "meta",
            "changelogs")
# Written by `lab/lab up`, not kept in the repository.
GENERATED = ("lab/inventory.yml",)
ARTICLE_TITLE = "Qualys scan \u2013 with Windows authentication"  # en dash, as the article has it
ARTICLE_URL = "https://www.sgbox.eu/?p=33490"


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    return {slug(m[1]) for m in re.finditer(r"^#+ (.+)$", markdown.read_text(), re.M)}


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.mark.parametrize("doc", MARKDOWN, ids=relative)
def test_every_relative_link_resolves(doc: Path) -> None:
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, anchor = target.split("#", 1) if "#" in target else (target, "")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        if not resolved.exists() or (anchor and resolved.suffix == ".md" and anchor not in anchors(resolved)):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize("doc", MARKDOWN + OTHER, ids=relative)
def test_every_quoted_repository_path_exists(doc: Path) -> None:
    quoted = re.findall(rf"(?<![\w/.-])((?:{'|'.join(TOP_DIRS)})/[\w./-]*\w\*?)", doc.read_text())
    assert sorted({p for p in quoted if not exists(p)}) == []


def exists(path: str) -> bool:
    """In the repository, as a glob, or (meta/...) in every role."""
    if path in GENERATED:
        return True
    if path.startswith("meta/") and not (REPO / path).exists():
        return all((role / path).exists() for role in (REPO / "roles").iterdir())
    return any(REPO.glob(path))


@pytest.mark.parametrize("doc", MARKDOWN + OTHER, ids=relative)
def test_no_design_notes_from_outside_the_repository(doc: Path) -> None:
    text = doc.read_text()
    for outside in ("ARCHITECTURE.md", "WINDOWS-FACTS.md", "design/", "seed/", "/work/"):
        assert outside not in text, f"{relative(doc)} cites {outside}, which is not in the repository"


def test_the_source_article_is_named_once_where_it_is_explained() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## The source article", 1)[1].split("\n## ", 1)[0]
    assert ARTICLE_TITLE in section and ARTICLE_URL in section
    for doc in MARKDOWN + OTHER:
        text = doc.read_text()
        assert text.count(ARTICLE_URL) == (1 if doc.name == "README.md" and doc.parent == REPO else 0), relative(doc)
        # Elsewhere it is "the source article", never an unexplained "the article".
        assert not re.search(r"\b[Tt]he article\b", text), f"{relative(doc)} says 'the article'"
