"""``vulntax analyze clusters``: the clustering study of a dataset's descriptions."""

from __future__ import annotations

import time
from pathlib import Path

import typer

app = typer.Typer(help="Analyse the descriptions of a dataset.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="analyze")


@app.command()
def clusters(
    dataset: Path = typer.Option(..., "--dataset", help="A folder from `vulntax dataset build`."),
    out: Path = typer.Option(..., "--out", help="Folder for figures, analysis.json, report.md."),
    split: str = typer.Option("train", help="The split whose descriptions are analysed."),
    sample: int = typer.Option(20000, help="Records sampled from the split (fixed seed)."),
    components: int = typer.Option(50, help="PCA axes the clustering works in."),
    k_min: int = typer.Option(2, "--k-min", help="Smallest number of clusters tried."),
    k_max: int = typer.Option(10, "--k-max", help="Largest number of clusters tried."),
    seed: int = typer.Option(0, help="Seed of the sampling, K-Means and the mixtures."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:  # fmt: skip
    """Sweep k for K-Means and Gaussian mixtures over TF-IDF → PCA, choose k, profile clusters."""
    from vulntax.errors import UsageError

    if k_min < 2:
        raise UsageError("--k-min must be 2 or more")
    if k_max < k_min:
        raise UsageError(f"--k-max ({k_max}) must not be below --k-min ({k_min})")
    if sample < 50:
        raise UsageError(f"--sample must be 50 or more, not {sample}")
    if components < 2:
        raise UsageError("--components must be 2 or more")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: a file, not a folder")

    from vulntax.analysis.clusters import analyze, check
    from vulntax.analysis.report import write_report
    from vulntax.dataset.store import load_dataset
    from vulntax.models.data import DataConfig, load_examples
    from vulntax.progress import progress

    started = time.perf_counter()
    ds = load_dataset(dataset)
    examples = load_examples(ds, [split], DataConfig(cwe_window_years=None), training=True)
    check(len(examples.texts), sample, range(k_min, k_max + 1))
    with progress(not quiet) as bar:
        analysis = analyze(
            examples.texts,
            examples.cvss,
            examples.cwe_gold,
            sample=sample,
            components=components,
            k_range=range(k_min, k_max + 1),
            seed=seed,
            progress=bar,
        )
    run = {"dataset": str(dataset), "split": split}
    report = write_report(analysis, out, run)
    typer.echo(
        f"chosen k = {analysis.chosen_k} (best silhouette "
        f"{analysis.criterion(analysis.chosen_k).silhouette:.3f}; elbow k = {analysis.elbow_k}, "
        f"BIC-best k = {analysis.bic_k}) on {analysis.sample:,} of {analysis.records:,} records "
        f"in {time.perf_counter() - started:.0f} s; report: {report}"
    )
