"""The synthetic cohort: :func:`generate` (simulation, then :mod:`recurrence.synth.assemble`).

Observed tables follow :mod:`recurrence.data.schema` exactly (the readers' columns), holding the
episodes open at some time in the window ``[1 April (final_year - years), 31 March final_year]``
as the LAs would have returned them: dates after 31 March of the final year are unknown (an open
episode has no closure date), and records about a child are under the LA where the referral was
made, with that LA's own ``la_child_id``. The truth tables hold everything, including history
before the window and maltreatment that was never referred.
"""

from __future__ import annotations

import itertools
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from recurrence.data.io import TableFormat, write_tables
from recurrence.data.schema import DATE, SCHEMAS, TABLE_NAMES, CINTables, empty_table
from recurrence.errors import ModelInputError
from recurrence.synth import generator as g
from recurrence.synth.assemble import (
    FIRST_CENSUS_YEAR,
    FIRST_CIN_PLAN_YEAR,
    build,
    simulate_and_prepare,
    simulate_to_file,
)
from recurrence.synth.config import SynthConfig
from recurrence.synth.las import load_la_populations

OutputFormat = Literal["csv", "parquet", "xml"]
TRUTH_TABLES: tuple[str, ...] = ("truth", "truth_events", "truth_referrals")


@dataclass(frozen=True)
class SyntheticCohort:
    """A synthetic linked CIN cohort with the truth behind it.

    Attributes
    ----------
    tables
        The observed census tables (:class:`recurrence.data.schema.CINTables`).
    truth
        One row per child (see ``docs/synthetic_model.md`` for every column).
    truth_events
        Every true maltreatment event from birth to the window end, referred or not.
    truth_referrals
        Every referral (also those before the window), with the service variables that are
        never recorded in the census (service within 60 days, attendance).
    config, preset, seed, years, n_children
        How the cohort was made (written to the manifest).
    """

    tables: CINTables
    truth: pd.DataFrame
    truth_events: pd.DataFrame
    truth_referrals: pd.DataFrame
    config: SynthConfig
    preset: str
    seed: int
    years: int
    n_children: int
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | os.PathLike[str], fmt: str = "csv") -> list[Path]:
        """Write the census tables, the truth tables and ``manifest.json`` to ``out_dir``.

        ``fmt`` is ``"csv"``, ``"parquet"`` or ``"xml"``. With ``"xml"`` the census tables are
        written as CIN census returns, one file per LA and census year from 2008-09 (the first
        CIN census) to the final year, ``xml/cin_<la>_<year>.xml``
        (:func:`recurrence.data.cin_xml_writer.write_cin_xml`), each holding what the LA
        would have returned that year (:func:`census_year_tables`); the truth tables are CSV.
        Files are written atomically and deterministically (no timestamps), so the same seed
        gives byte-identical files. Returns the written paths (manifest last).
        """
        from recurrence.synth.manifest import write_manifest

        fmt = check_output_format(fmt)
        extra = {
            "truth": self.truth,
            "truth_events": self.truth_events,
            "truth_referrals": self.truth_referrals,
        }
        out = Path(out_dir)
        if fmt == "xml":
            paths = self._write_xml(out)
            paths += _write_frames(extra, out)
        else:
            tfmt: TableFormat = fmt
            paths = write_tables(self.tables, out, tfmt, extra=extra)
        manifest = write_manifest(self, paths, out)
        return [*paths, manifest]

    def _write_xml(self, out: Path) -> list[Path]:
        from recurrence.data.cin_xml_writer import write_cin_xml

        xml_dir = out / "xml"
        xml_dir.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        first = max(FIRST_CENSUS_YEAR, self.config.final_year - self.years + 1)
        for year in range(first, self.config.final_year + 1):
            yearly = census_year_tables(self.tables, year)
            for la in sorted(set(yearly.children["la_code"])):
                path = xml_dir / f"cin_{la}_{year}.xml"
                write_cin_xml(yearly, path, la_code=la, collection_year=year)
                paths.append(path)
        return paths


def generate(
    *,
    n_children: int,
    years: int,
    seed: int,
    preset: str = "england-2009",
    config: SynthConfig | None = None,
    n_jobs: int = 1,
) -> SyntheticCohort:
    """Generate a synthetic cohort of ``n_children`` children in contact with children's social care.

    Parameters
    ----------
    n_children
        Number of distinct children with at least one CIN episode open at some time in the
        window (the issue's N).
    years
        Length of the observed window in years, ending 31 March of the preset's final year.
    seed
        Integer seed; the same seed, preset and configuration give identical tables whatever
        ``n_jobs`` is.
    preset
        ``"england-2009"`` or ``"england-2025"`` (:mod:`recurrence.synth.presets`).
    config
        A full configuration overriding the preset's (for example
        ``preset_config("england-2009").replace(mobility_rate=0.1)``).
    n_jobs
        Processes sharing the work: the calling process and ``n_jobs - 1`` loky workers, each
        simulating a contiguous range of LAs with about the same number of children.
    """
    from recurrence.synth.presets import PRESETS, preset_config

    if preset not in PRESETS:
        raise ModelInputError(f"preset must be one of {', '.join(PRESETS)}; got {preset!r}")
    if n_children < 1:
        raise ModelInputError(f"n_children must be at least 1; got {n_children}")
    if not 1 <= years <= 30:
        raise ModelInputError(f"years must be between 1 and 30; got {years}")
    if n_jobs < 1:
        raise ModelInputError(f"n_jobs must be at least 1; got {n_jobs}")
    cfg = config if config is not None else preset_config(preset)
    las = load_la_populations(cfg.population_year)
    ctx = g.make_context(cfg, years, seed, las["la_code"], las["population_0_17"])
    targets = [int(t) for t in g.allocate(n_children, ctx.la_weights)]
    chunks = _chunks(targets, n_jobs)
    if len(chunks) == 1:
        parts = simulate_and_prepare(ctx, chunks[0], targets)
    else:
        from joblib.externals.loky import ProcessPoolExecutor

        # The calling process simulates the first chunk while n_jobs - 1 workers simulate the
        # others; each chunk comes back as numbers only (assemble.prepare), through a file in a
        # private temporary directory (much faster than the result pipe). A private pool, not
        # loky's process-wide reusable one: joblib.Parallel (the simulation engine) later finds
        # that shared pool without the state joblib adds to its own and fails.
        with (
            ProcessPoolExecutor(max_workers=n_jobs - 1) as executor,
            tempfile.TemporaryDirectory(prefix="recurrence-synth-") as tmp,
        ):
            futures = [
                executor.submit(simulate_to_file, ctx, chunk, targets, os.path.join(tmp, f"chunk{i}.pkl"))
                for i, chunk in enumerate(chunks[1:])
            ]
            parts = simulate_and_prepare(ctx, chunks[0], targets)
            for f in futures:
                path = f.result()
                with open(path, "rb") as fh:
                    parts += pickle.load(fh)
                os.remove(path)
            del futures
    tables, truth, events, referrals = build(ctx, parts)
    return SyntheticCohort(
        tables=tables, truth=truth, truth_events=events, truth_referrals=referrals, config=cfg,
        preset=preset, seed=seed, years=years, n_children=n_children,
    )


def _chunks(targets: list[int], n: int) -> list[list[int]]:
    """Split LA indices into at most ``n`` contiguous ranges with about equal numbers of children.

    Contiguous ranges keep the canonical child order (by LA, then family serial) a plain
    concatenation of the chunks' results; the split itself never changes the output.
    """
    cum = np.cumsum(targets)
    cuts = [int(np.searchsorted(cum, cum[-1] * j / n, side="left")) + 1 for j in range(1, n)]
    edges = sorted({0, *[min(c, len(targets)) for c in cuts], len(targets)})
    return [list(range(a, b)) for a, b in itertools.pairwise(edges) if b > a]


# --------------------------------------------------------------------------------------------


def _tables(frames: dict[str, pd.DataFrame]) -> CINTables:
    """Build :class:`CINTables` with the schema's dtypes without a per-value conversion.

    ``coerce_table`` maps every string through Python, which costs minutes at England scale;
    here the columns are built with the right dtypes already, so only the order and the dtypes
    of boolean and count columns are set. Tests check the result against the schemas.
    """
    out = {}
    for name in TABLE_NAMES:
        if name not in frames:
            out[name] = empty_table(name)
            continue
        frame = frames[name]
        cols = {}
        for col, column in SCHEMAS[name].columns.items():
            dtype = str(column.dtype)
            v = frame[col]
            if dtype == "boolean":
                v = v.astype("boolean")
            elif dtype == "Int64":
                v = v.astype("Int64")
            elif dtype == DATE:
                v = v.astype(DATE)
            else:
                v = v.astype(object)
            cols[col] = v.reset_index(drop=True)
        out[name] = pd.DataFrame(cols)
    return CINTables(**out)


def _write_frames(frames: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """Write extra frames as deterministic CSV, atomically per file."""
    from recurrence.data.io import write_frame

    paths = []
    for name, frame in frames.items():
        target = out / f"{name}.csv"
        tmp = out / f".{name}.csv.tmp"
        write_frame(frame, tmp, "csv")
        os.replace(tmp, target)
        paths.append(target)
    return paths


def census_year_tables(tables: CINTables, year: int) -> CINTables:
    """What the LAs would have returned in the census year ending 31 March ``year``.

    Episodes open at some time from 1 April ``year - 1`` to 31 March ``year``; records that
    started after 31 March ``year`` are dropped and dates after it are unknown (closure,
    authorisation, plan end, CIN plan end, initial conference, death); CIN plans appear from
    the 2021-22 return. ``census_year`` is set to ``year``.
    """
    start = pd.Timestamp(f"{year - 1}-04-01")
    ref = pd.Timestamp(f"{year}-03-31")
    key = ["la_code", "la_child_id", "cin_referral_date"]
    ep = tables.cin_episodes
    keep = (ep["cin_referral_date"] <= ref) & (ep["cin_closure_date"].isna() | (ep["cin_closure_date"] >= start))
    ep = ep[keep].copy()
    late = ep["cin_closure_date"] > ref
    ep.loc[late, "cin_closure_date"] = pd.NaT
    ep.loc[late, "reason_for_closure"] = None
    ep.loc[ep["date_of_initial_cpc"] > ref, "date_of_initial_cpc"] = pd.NaT
    ep["census_year"] = pd.array([year] * len(ep), dtype="Int64")
    eps = ep[key]

    def within(frame: pd.DataFrame, date_col: str) -> pd.DataFrame:
        f = frame.merge(eps, on=key, how="inner")
        return f[f[date_col] <= ref].copy()

    asm = within(tables.assessments, "assessment_actual_start_date")
    unauth = asm["assessment_authorisation_date"] > ref
    asm.loc[unauth, "assessment_authorisation_date"] = pd.NaT
    authorised = asm[~asm["assessment_authorisation_date"].isna()][[*key, "assessment_actual_start_date"]]
    fac = tables.assessment_factors.merge(authorised, on=[*key, "assessment_actual_start_date"])
    s47 = within(tables.section47, "s47_actual_start_date")
    s47.loc[s47["date_of_initial_cpc"] > ref, "date_of_initial_cpc"] = pd.NaT
    cpp = within(tables.cpps, "cpp_start_date")
    cpp.loc[cpp["cpp_end_date"] > ref, "cpp_end_date"] = pd.NaT
    rev = within(tables.cpp_reviews, "cpp_review_date")
    # CINPlanDates entered the census with the 2021-22 return.
    cinp = within(tables.cin_plans, "cin_plan_start_date")
    if year < FIRST_CIN_PLAN_YEAR:
        cinp = cinp.iloc[0:0]
    cinp.loc[cinp["cin_plan_end_date"] > ref, "cin_plan_end_date"] = pd.NaT
    ch = tables.children.merge(ep[["la_code", "la_child_id"]].drop_duplicates(), on=["la_code", "la_child_id"])
    ch.loc[ch["person_death_date"] > ref, "person_death_date"] = pd.NaT
    frames = {"children": ch, "cin_episodes": ep, "assessments": asm, "assessment_factors": fac,
              "cin_plans": cinp, "section47": s47, "cpps": cpp, "cpp_reviews": rev}
    return _tables({k: v.reset_index(drop=True) for k, v in frames.items()})


def check_output_format(fmt: str) -> OutputFormat:
    """Return ``fmt`` if it is a table format :meth:`SyntheticCohort.write` accepts."""
    if fmt not in get_args(OutputFormat):
        raise ModelInputError(f"format must be one of {', '.join(get_args(OutputFormat))}; got {fmt!r}")
    return fmt  # type: ignore[return-value]


__all__ = ["SyntheticCohort", "generate"]
