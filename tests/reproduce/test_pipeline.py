"""The reproduction pipeline: determinism, caching, disclosure checking and the DfE message.

The caching and checking tests run toy step scripts written into a temporary ``analyses/``
folder (fast, and the point is the pipeline's behaviour); the determinism test runs the real
analysis scripts with the ``tiny`` profile twice, each with its own empty cache.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from recurrence.errors import InputFileError
from recurrence.reproduce import pipeline
from recurrence.reproduce.pipeline import run_pipeline
from recurrence.reproduce.report import strip_timestamp
from recurrence.sdc import DisclosureError

STEP_A = '''
"""Toy step A: a child-level count table and a figure."""
import pandas as pd
TITLE = "Step A"
NEEDS = ()
USES = ("recurrence.sdc",)

def run(ctx):
    import matplotlib.pyplot as plt
    n = int(ctx.params.get("n", 40))
    frame = pd.DataFrame({"la_code": ["201", "202", "203"], "children": [n, n + 3, 7]})
    (ctx.work_dir / "a.txt").write_text(str(n))
    fig, ax = plt.subplots()
    ax.bar(frame["la_code"], [n, n + 3, 0])
    ctx.finding(f"A counted {n} children.")
    return [
        ctx.table(frame, "counts", caption="Counts", count_columns=["children"]),
        ctx.figure(fig, "bars", caption="Bars"),
    ]
'''

STEP_B = '''
"""Toy step B: reads A's intermediate data."""
import pandas as pd
TITLE = "Step B"
NEEDS = ("01_a",)
USES = ()

def run(ctx):
    n = int((ctx.upstream_work("01_a") / "a.txt").read_text())
    frame = pd.DataFrame({"quantity": ["double"], "value": [2 * n]})
    return [ctx.table(frame, "double", caption="Double", child_level=False, reason="toy")]
'''

STEP_C = '''
"""Toy step C: independent of A and B; reads the DfE folder when present."""
import pandas as pd
TITLE = "Step C"
NEEDS = ()
USES = ()
READS_DFE = True

def run(ctx):
    if ctx.dfe_dir is None:
        ctx.skip(f"no DfE tables folder at {ctx.dfe_searched}")
    frame = pd.DataFrame({"files": [len(list(ctx.dfe_dir.glob("*.csv")))]})
    return [ctx.table(frame, "files", caption="Files", child_level=False, reason="toy")]
'''


def _toy_analyses(root: Path, leak: bool = False) -> Path:
    folder = root / "analyses"
    folder.mkdir()
    (folder / "01_a.py").write_text(STEP_A)
    (folder / "02_b.py").write_text(STEP_B)
    (folder / "03_c.py").write_text(STEP_C)
    if leak:
        (folder / "04_leak.py").write_text(
            textwrap.dedent(
                """
                import pandas as pd
                TITLE = "Leaky step"
                NEEDS = ()
                USES = ()

                def run(ctx):
                    path = ctx.out_dir / "leak.csv"
                    pd.DataFrame({"la_code": ["201"], "n_children": [3]}).to_csv(path, index=False)
                    return [path]
                """
            )
        )
    return folder


def _run(tmp_path: Path, analyses: Path, **kw: object) -> pipeline.PipelineResult:
    kw.setdefault("dfe", None)
    return run_pipeline(
        tmp_path / "out",
        profile="tiny",
        cache_dir=tmp_path / "cache",
        analyses_dir=analyses,
        show_progress=False,
        git_commit="test-commit",
        **kw,  # type: ignore[arg-type]
    )


def test_cache_redoes_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "DEFAULT_DFE_DIR", tmp_path / "no-dfe-here")
    analyses = _toy_analyses(tmp_path)
    first = _run(tmp_path, analyses)
    assert first.executed == ["01_a", "02_b", "03_c"]
    again = _run(tmp_path, analyses)
    assert again.executed == [] and again.cached == ["01_a", "02_b", "03_c"]
    assert again.output_hashes == first.output_hashes
    # A parameter of A changes: A and B (which reads A's data) rerun; C does not.
    changed = _run(tmp_path, analyses, overrides={"01_a": {"n": 50}})
    assert changed.executed == ["01_a", "02_b"]
    assert changed.output_hashes["02_b/double.csv"] != first.output_hashes["02_b/double.csv"]
    # Editing B's script reruns only B.
    (analyses / "02_b.py").write_text(STEP_B + "\n# an edit\n")
    edited = _run(tmp_path, analyses, overrides={"01_a": {"n": 50}})
    assert edited.executed == ["02_b"]


def test_missing_dfe_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "shared" / "data" / "dfe"
    monkeypatch.setattr(pipeline, "DEFAULT_DFE_DIR", missing)
    result = _run(tmp_path, _toy_analyses(tmp_path))
    step_c = next(s for s in result.steps if s.step.name == "03_c")
    assert step_c.record.skipped == f"no DfE tables folder at {missing}"
    html = result.report.read_text(encoding="utf-8")
    assert f"no DfE tables folder at {missing}" in html
    with pytest.raises(InputFileError, match="--dfe does not exist"):
        _run(tmp_path, tmp_path / "analyses", dfe=tmp_path / "nope")


def test_dfe_folder_is_used_and_is_part_of_the_cache_key(tmp_path: Path) -> None:
    dfe = tmp_path / "dfe"
    dfe.mkdir()
    (dfe / "a.csv").write_text("x\n1\n")
    analyses = _toy_analyses(tmp_path)
    first = _run(tmp_path, analyses, dfe=dfe)
    assert (first.out_dir / "03_c" / "files.csv").read_text() == "files\n1\n"
    (dfe / "b.csv").write_text("x\n2\n")
    second = _run(tmp_path, analyses, dfe=dfe)
    assert second.executed == ["03_c"]


def test_report_and_declarations(tmp_path: Path) -> None:
    result = _run(tmp_path, _toy_analyses(tmp_path), dfe=None)
    out = result.out_dir
    # The child-level table was suppressed and rounded when written.
    assert (out / "01_a" / "counts.csv").read_text() == "la_code,children\n201,40\n202,45\n203,c\n"
    html = result.report.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html
    assert "A counted 40 children." in html
    assert "analyses/01_a.py" in html and "test-commit" in html
    assert (out / "disclosure.json").exists()
    for rel, digest in result.output_hashes.items():
        assert digest in html, rel


def test_disclosure_failure_names_file_and_cell_and_releases_nothing(tmp_path: Path) -> None:
    analyses = _toy_analyses(tmp_path, leak=True)
    with pytest.raises(DisclosureError, match=r"04_leak/leak\.csv: row 1, column 'n_children'"):
        _run(tmp_path, analyses)
    assert not (tmp_path / "out").exists()


def test_refuses_to_replace_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.docx").write_text("precious")
    with pytest.raises(InputFileError, match="not written by `recurrence reproduce`"):
        _run(tmp_path, _toy_analyses(tmp_path))
    assert (tmp_path / "out" / "thesis.docx").exists()


def test_two_runs_of_the_real_chain_are_byte_identical(tmp_path: Path) -> None:
    """The real analyses (tiny profile), twice with empty caches: identical files and report."""
    runs = []
    for i in (1, 2):
        runs.append(
            run_pipeline(
                tmp_path / f"out{i}",
                profile="tiny",
                cache_dir=tmp_path / f"cache{i}",
                show_progress=False,
                git_commit="test-commit",
            )
        )
    a, b = runs
    assert a.executed == b.executed and a.executed
    assert a.output_hashes == b.output_hashes
    assert any(k.endswith(".png") for k in a.output_hashes)
    html_a = strip_timestamp(a.report.read_text(encoding="utf-8"))
    html_b = strip_timestamp(b.report.read_text(encoding="utf-8"))
    assert html_a == html_b


def test_cache_key_is_the_same_in_every_process() -> None:
    """The key must not depend on set order, which string-hash randomisation changes per process."""
    import os
    import subprocess
    import sys

    code = (
        "import joblib\n"
        "from recurrence.reproduce.pipeline import _rules_json\n"
        "from recurrence.sdc import SDCRules\n"
        "print(joblib.hash(_rules_json(SDCRules())))\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1
