"""The self-contained HTML report of a reproduction run, with its colophon.

One file, ``report.html``, that a reviewer opens in a browser: the findings in words, every table
(shown in full up to :data:`MAX_TABLE_ROWS` rows, and linked as CSV) and every figure (embedded as
a PNG data URI, so the file is self-contained), a map from each figure and table to the analysis
script that made it, the disclosure-control statement, and a colophon: package version, git
commit, sha256 of the lock file, seeds and parameters, and the sha256 of every input and output.

The colophon timestamp (``<time id="generated">``) is the only content that differs between two
runs of the same code on the same inputs.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import importlib.metadata
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from recurrence import __version__
from recurrence.sdc import SDCRules

if TYPE_CHECKING:
    from recurrence.reproduce.pipeline import StepRun

#: Tables longer than this are shown in part (the full CSV is linked).
MAX_TABLE_ROWS = 40

#: Packages whose versions are listed in the colophon.
COLOPHON_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "lifelines",
    "matplotlib",
    "joblib",
    "jinja2",
)


def git_commit(repo_root: Path) -> str:
    """``git rev-parse HEAD`` of the repository, noting uncommitted changes; or ``unknown``."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo_root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo_root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head} (with uncommitted changes)" if dirty else head


@dataclass(frozen=True)
class Colophon:
    """Everything needed to say exactly what produced the outputs."""

    package_version: str
    git_commit: str
    lock_sha256: str
    python: str
    packages: dict[str, str]
    profile: str
    seed: int
    params: dict[str, dict[str, Any]]
    rules: SDCRules
    inputs: dict[str, str]
    outputs: dict[str, str]
    generated: str

    @classmethod
    def collect(
        cls,
        *,
        profile: str,
        seed: int,
        params: Mapping[str, Mapping[str, Any]],
        rules: SDCRules,
        inputs: Mapping[str, str],
        outputs: Mapping[str, str],
        git_commit: str | None,
        repo_root: Path,
    ) -> Colophon:
        """Gather versions, the commit and the hashes (the timestamp is taken now, in UTC)."""
        versions = {}
        for name in COLOPHON_PACKAGES:
            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                versions[name] = "not installed"
        lock = "requirements.lock"
        return cls(
            package_version=__version__,
            git_commit=git_commit if git_commit is not None else globals()["git_commit"](repo_root),
            lock_sha256=inputs.get(lock, "lock file not found"),
            python=platform.python_version(),
            packages=versions,
            profile=profile,
            seed=seed,
            params={k: dict(v) for k, v in sorted(params.items())},
            rules=rules,
            inputs=dict(sorted(inputs.items())),
            outputs=dict(sorted(outputs.items())),
            generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )


def _read_table(path: Path) -> tuple[list[str], list[list[str]], int]:
    """Header, the first rows (as text) and the total number of rows of a CSV."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        rows = list(reader)
    return header, rows[:MAX_TABLE_ROWS], len(rows)


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(
    out_dir: Path,
    runs: Sequence[StepRun],
    colophon: Colophon,
    *,
    dfe_searched: Path,
    name: str = "report.html",
) -> Path:
    """Render ``out_dir/<name>`` from the steps' artefacts and findings; return its path."""
    sections = []
    figure_no = 0
    table_no = 0
    code_map = []
    for run in runs:
        step = run.step
        items: list[dict[str, Any]] = []
        for art in run.record.artefacts:
            path = out_dir / step.name / art.path
            rel = f"{step.name}/{art.path}"
            if art.kind == "figure":
                figure_no += 1
                label = f"Figure {figure_no}"
                items.append(
                    {
                        "kind": "figure",
                        "label": label,
                        "caption": art.caption,
                        "href": rel,
                        "src": _data_uri(path),
                    }
                )
            else:
                table_no += 1
                label = f"Table {table_no}"
                header, rows, n_rows = _read_table(path)
                items.append(
                    {
                        "kind": "table",
                        "label": label,
                        "caption": art.caption,
                        "href": rel,
                        "header": header,
                        "rows": rows,
                        "n_rows": n_rows,
                    }
                )
            code_map.append({"label": label, "file": rel, "script": f"analyses/{step.script.name}"})
        sections.append(
            {
                "id": step.name,
                "title": step.title,
                "script": f"analyses/{step.script.name}",
                "findings": list(run.record.findings),
                "skipped": run.record.skipped,
                "artefacts": items,
            }
        )
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            sections=sections,
            code_map=code_map,
            colophon=colophon,
            rules=colophon.rules,
            dfe_searched=str(dfe_searched),
            max_rows=MAX_TABLE_ROWS,
        )
    )
    path = out_dir / name
    path.write_text(html, encoding="utf-8")
    return path


def strip_timestamp(html: str) -> str:
    """The report without its colophon timestamp (for comparing two runs)."""
    start = html.find('<time id="generated"')
    if start < 0:
        return html
    end = html.find("</time>", start)
    return html[:start] + html[end + len("</time>") :]
