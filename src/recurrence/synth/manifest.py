"""``manifest.json``: what a synthetic data set is and how to check it.

The manifest records the package version, the configuration version and every parameter, the
preset, seed, window and size, and the sha256 of each written file. It holds no timestamps or
host names, so the same inputs give a byte-identical manifest, and
:func:`verify_manifest` can tell whether files were changed after they were written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recurrence._version import __version__
from recurrence.errors import InputFileError
from recurrence.synth.config import CONFIG_VERSION

if TYPE_CHECKING:
    from recurrence.synth.cohort import SyntheticCohort

MANIFEST_NAME = "manifest.json"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_manifest(cohort: SyntheticCohort, paths: Sequence[Path], out_dir: Path) -> dict[str, Any]:
    """The manifest as a dict (file names relative to the output directory, sorted)."""
    return {
        "generator": "recurrence.synth",
        "package_version": __version__,
        "config_version": CONFIG_VERSION,
        "preset": cohort.preset,
        "seed": cohort.seed,
        "n_children": cohort.n_children,
        "years": cohort.years,
        "window": {
            "start": f"{cohort.config.final_year - cohort.years}-04-01",
            "end": f"{cohort.config.final_year}-03-31",
        },
        "config": cohort.config.to_dict(),
        "rows": {
            **cohort.tables.counts(),
            "truth": len(cohort.truth),
            "truth_events": len(cohort.truth_events),
            "truth_referrals": len(cohort.truth_referrals),
        },
        "files": {_rel(p, out_dir): sha256_file(p) for p in sorted(paths, key=lambda q: _rel(q, out_dir))},
    }


def _rel(path: Path, out_dir: Path) -> str:
    """Path relative to the output directory, with forward slashes."""
    return Path(path).resolve().relative_to(Path(out_dir).resolve()).as_posix()


def write_manifest(cohort: SyntheticCohort, paths: Sequence[Path], out_dir: Path) -> Path:
    """Write ``out_dir/manifest.json`` (sorted keys, two-space indent, trailing newline)."""
    target = out_dir / MANIFEST_NAME
    text = json.dumps(build_manifest(cohort, paths, out_dir), indent=2, sort_keys=True) + "\n"
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    tmp.replace(target)
    return target


def verify_manifest(directory: str | Path) -> dict[str, bool]:
    """File name -> whether its sha256 equals the manifest's (missing files count as False)."""
    d = Path(directory)
    path = d / MANIFEST_NAME
    if not path.exists():
        raise InputFileError(str(path), "file not found")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (ValueError, KeyError) as exc:
        raise InputFileError(str(path), f"not a synthetic-data manifest: {exc}") from exc
    return {name: (d / name).exists() and sha256_file(d / name) == digest for name, digest in files.items()}
