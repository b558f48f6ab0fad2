"""Published tables are generated: docs/results/NAME/report.md must be what its results.csv renders to,
and every include line in the docs must name a file that exists."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "mkdocs_hooks"))
import render_results  # noqa: E402
import snippets  # noqa: E402

CSV = """init,evaluator,fraction,n_labels,seed,metric,value
BYOL,knn@20,0.01,216,0,accuracy,0.52
BYOL,knn@20,0.01,216,1,accuracy,0.53
random,knn@20,0.01,216,0,accuracy,0.35
random,knn@20,0.01,216,1,accuracy,0.36
"""


@pytest.fixture
def published(tmp_path: Path) -> Path:
    folder = tmp_path / "results" / "eurosat_rgb"
    folder.mkdir(parents=True)
    (folder / "results.csv").write_text(CSV)
    assert render_results.main(["--root", str(tmp_path / "results")]) == 0
    return folder


def test_committed_reports_match_their_results():
    problems = render_results.check()
    assert not problems, "\n".join(problems) + "\nregenerate: python benchmarks/render_results.py"


def test_rendering_writes_the_report_of_the_csv(published: Path):
    text = (published / "report.md").read_text()
    assert "| BYOL | **52.5 ± 0.7** |" in text and "| random | 35.5 ± 0.7 |" in text
    assert render_results.main(["--check", "--root", str(published.parent)]) == 0


def test_an_edited_number_fails_the_check_naming_folder_and_line(published: Path, capsys):
    report = published / "report.md"
    lines = report.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if "52.5" in line)
    lines[number] = lines[number].replace("52.5", "55.2")
    report.write_text("".join(lines))
    assert render_results.main(["--check", "--root", str(published.parent)]) == 1
    out = capsys.readouterr().out
    assert "eurosat_rgb/report.md differs" in out and f"line {number + 1}" in out
    assert "55.2" in out and "52.5" in out


def test_a_changed_csv_fails_the_check_until_rerendered(published: Path):
    (published / "results.csv").write_text(CSV.replace("0.36", "0.46"))
    assert render_results.check(published.parent)
    assert render_results.main(["--root", str(published.parent)]) == 0
    assert not render_results.check(published.parent)


def test_a_csv_without_its_report_is_a_problem(published: Path):
    (published / "report.md").unlink()
    assert render_results.check(published.parent) == [f"{published}: results.csv without report.md"]


def test_report_json_sets_title_and_context_and_refuses_unknown_keys(published: Path):
    (published / "report.json").write_text(json.dumps({"title": "EuroSAT RGB", "context": ["Test set: 5400."]}))
    assert render_results.check(published.parent)  # the settings changed what it renders to
    render_results.main(["--root", str(published.parent)])
    text = (published / "report.md").read_text()
    assert text.startswith("# EuroSAT RGB\n\nTest set: 5400.\n")
    (published / "report.json").write_text(json.dumps({"titel": "typo"}))
    with pytest.raises(SystemExit, match="unknown key"):
        render_results.render(published)


def test_first_difference_reports_a_missing_last_line():
    assert render_results.first_difference("a\nb\n", "a\nb\n") is None
    assert render_results.first_difference("a\n", "a\nb\n") == (2, "<end of file>", "b")
    assert render_results.first_difference("a\nc\n", "a\nb\n") == (2, "c", "b")


# --- includes ------------------------------------------------------------------------------------

def test_every_docs_include_names_an_existing_file():
    docs = REPO / "docs"
    missing = [(page.relative_to(REPO), target) for page in sorted(docs.rglob("*.md"))
               for target in snippets.includes(page.read_text()) if not (docs / target).is_file()]
    assert not missing, f"docs pages include files that do not exist: {missing}"


def test_mkdocs_runs_the_include_hook():
    text = (REPO / "mkdocs.yml").read_text()
    assert "mkdocs_hooks/snippets.py" in text and "results/**/*.md" in text  # generated tables are included, not pages


def test_include_nests_headings_and_refuses_a_missing_file(tmp_path: Path):
    (tmp_path / "results" / "x").mkdir(parents=True)
    (tmp_path / "results" / "x" / "report.md").write_text("# Title\n\n## accuracy\n\n| a |\n")
    page = '# Results\n\n### EuroSAT\n\n--8<-- "results/x/report.md"\n\n```\n--8<-- "not/included.md"\n```\n'
    out = snippets.include(page, tmp_path, "results.md")
    assert "#### Title\n\n##### accuracy\n\n| a |" in out
    assert '--8<-- "not/included.md"' in out  # inside a code fence: an example, left as text
    assert snippets.includes(page) == ["results/x/report.md"]
    with pytest.raises(snippets.MissingInclude, match="results/gone.md"):
        snippets.include('--8<-- "results/gone.md"\n', tmp_path, "results.md")


def test_adopt_keeps_the_commands_title_and_context(tmp_path: Path):
    folder = tmp_path / "results" / "run"
    folder.mkdir(parents=True)
    (folder / "results.csv").write_text(CSV)
    read_many, render_report = render_results.renderer()
    written = render_report(read_many([folder / "results.csv"]), "EuroSAT RGB, frozen", ["Test set: 5,400 images."])
    (folder / "report.md").write_text(written)
    # without report.json the default title renders: the check fails
    assert render_results.check(folder.parent)
    assert render_results.main(["--adopt", str(folder), "--check", "--root", str(folder.parent)]) == 0
    assert json.loads((folder / "report.json").read_text()) == {"title": "EuroSAT RGB, frozen",
                                                                "context": ["Test set: 5,400 images."]}
