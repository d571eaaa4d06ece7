"""Make the shipped `accurate` model: the shipped default + a fine-tuned MiniLM, averaged.

    python bench/finetune/accurate.py --finetuned runs/ft-p3/int8 \
        --heldout-linear runs/linear --heldout-finetuned runs/ft-p1/int8 \
        --dataset runs/dataset [--data-dir ../shared/data] [--install]

What it writes (a composite model, ``models/composite.py``):

* ``config.json``: the parts and the weight of each per head. The linear part is the
  *shipped default model*, referenced by name, not copied (the package holds it once);
  the fine-tuned part (an int8 multitask model, ``bench/finetune/quantize.py``) is copied
  under ``parts/finetuned``. CWE, CAPEC and CVSS are averaged with the linear model's weights
  ``--cwe-weight`` / ``--cvss-weight`` (chosen on validation of both protocols:
  docs/finetune.md); ATT&CK comes from the linear model alone (its head learnt from the
  analysts' mappings; the fine-tuned model's, distilled from catalog links, is weaker).
* ``trust.json`` / ``trust.safetensors``: the trust checks (``vulntax.trust.fit``) on the
  linear part's tf-idf columns; the CVSS abstention threshold is the 5 % quantile of the
  CVSS confidence of the same ensemble of *held-out* models (``--heldout-linear`` and
  ``--heldout-finetuned``, both trained on ``--dataset``'s train split only) on its
  validation split.
* ``cvss4.*`` / ``metadata.*``: the stacked heads, fitted on this model's outputs by
  ``bench/records/fit.py`` (as for the default model).
* ``README.md`` (model card) and ``metrics.json`` (the held-out figures of the recipe, read
  from ``bench/results/finetune-p{1,2}-accurate.json``).

It prints the size on disk (the budget is 30 MB, the default model not counted since the
package ships it anyway) and refuses to install a model over it. With ``--install`` the
model replaces ``src/vulntax/accurate_model``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from shipping import install_model  # noqa: E402

TARGET = ROOT / "src" / "vulntax" / "accurate_model"
BUDGET_MB = 30


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finetuned", type=Path, required=True, help="int8 fine-tuned model")
    parser.add_argument("--heldout-linear", type=Path, required=True)
    parser.add_argument("--heldout-finetuned", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True, help="the held-out models' one")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--cwe-weight", type=float, default=0.7, help="linear's CWE/CAPEC weight")
    parser.add_argument("--cvss-weight", type=float, default=0.7, help="linear's CVSS weight")
    parser.add_argument("--version", default="1")
    parser.add_argument("--install", action="store_true", help="replace the shipped model")
    args = parser.parse_args()

    from vulntax.models.composite import compose
    from vulntax.trust.fit import fit_trust

    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f}s] {message}", file=sys.stderr, flush=True)

    def heads(cwe: float, cvss: float) -> dict[str, Any]:
        averaged = {"linear": cwe, "finetuned": round(1 - cwe, 4)}
        return {
            "cwe": averaged,
            "capec": dict(averaged),
            "cvss": {"linear": cvss, "finetuned": round(1 - cvss, 4)},
            "attack": "linear",
        }

    weights = heads(args.cwe_weight, args.cvss_weight)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "accurate"
        parts: dict[str, Path | str] = {"linear": "default", "finetuned": args.finetuned}
        compose(out, parts, weights, "vulntax-accurate", args.version)
        heldout = Path(tmp) / "heldout"
        compose(
            heldout,
            {"linear": args.heldout_linear, "finetuned": args.heldout_finetuned},
            weights,
            "heldout",
            "1",
        )
        log("composed; fitting the trust checks")
        trust = fit_trust(out, args.dataset, heldout_model=heldout, log=log)
        trust.settings.measured["cvss_threshold_model"] = (
            f"the same ensemble of {args.heldout_linear} and {args.heldout_finetuned}"
        )
        trust.save(out)
        log("fitting the stacked heads (bench/records/fit.py)")
        sys.path.insert(0, str(ROOT / "bench" / "records"))
        import fit as records_fit

        records_fit.main(
            ["--model", str(out), "--dataset", str(args.dataset), "--data-dir", str(args.data_dir)]
        )
        metrics = held_out_figures(weights)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        (out / "README.md").write_text(card(weights, metrics, trust), encoding="utf-8")
        label = "accurate model (the default model it uses apart)"
        install_model(out, TARGET, BUDGET_MB, label, args.install)


def held_out_figures(weights: dict[str, Any]) -> dict[str, Any]:
    """The recipe's held-out test figures on both protocols (bench/finetune/compare.py
    --weights ... --attack-from linear, raw bench/results/finetune-p{1,2}-accurate.json)."""
    figures: dict[str, Any] = {
        "note": "test figures of the same recipe on each protocol (linear and fine-tuned "
        "parts trained on its train split only, weights fixed as here); this model's own "
        "parts were fitted on newer data and cannot be measured on these splits",
        "weights": weights,
    }
    for protocol in ("p1", "p2"):
        raw = json.loads(
            (ROOT / "bench" / "results" / f"finetune-{protocol}-accurate.json").read_text()
        )
        results = raw["results"]
        recipe = next(n for n in results if "fixed" in n)
        figures[protocol] = {
            "dataset": raw["dataset"],
            "date": raw["date"],
            **{
                name: {k: v for k, v in results[key]["test"].items() if "baseline" not in k}
                for name, key in (("accurate", recipe), ("linear", "linear"), ("int8", "int8"))
            },
            "majority": results["linear"]["test"]["baseline"],
        }
    return figures


def card(weights: dict[str, Any], metrics: dict[str, Any], trust: Any) -> str:
    measured = trust.settings.measured
    linear_cwe, linear_cvss = weights["cwe"]["linear"], weights["cvss"]["linear"]
    return f"""# vulntax-accurate

The shipped default (linear) model and all-MiniLM-L6-v2 fine-tuned end to end inside the
multitask model (int8), averaged per head. The linear model's weight is {linear_cwe} for CWE
and CAPEC and {linear_cvss} for CVSS; ATT&CK comes from the linear model alone. Made by
`python bench/finetune/accurate.py` (its docstring says how); the figures, and why this
recipe, are in docs/finetune.md ("The shipped accurate model").

- parts: the shipped default model (referenced by name, checked by the hash of its
  config.json) and `parts/finetuned` (an int8 multitask model, with its own `README.md`)
- trust checks: the detector on the linear part's tf-idf columns; CVSS abstains below a
  confidence of {trust.settings.cvss_min_confidence:.4f} (the 5 % quantile of a held-out
  twin of this ensemble on validation: {measured.get("validation_cvss_abstained")} abstained)
- stacked heads: `cvss4.*` and `metadata.*`, fitted on this model by `bench/records/fit.py`

## Held-out test figures of the recipe (all gold sources; `metrics.json`)

Protocol 1 (p1) and protocol 2 (p2) test splits; "fine-tuned" is the int8 fine-tuned
model alone, "linear" the linear model alone, both trained on the protocol's train split.

{table(metrics)}

Limits: those of the default model (English NVD and CNA descriptions; CVSS follows NVD
analysts' scoring); much slower than it, since every description runs through the encoder.
"""


ROWS = (
    ("CWE strict top-1", "cwe.top1"),
    ("CWE hierarchy-aware", "cwe.hierarchy"),
    ("CWE top-5", "cwe.top5"),
    ("CWE path violations", "cwe.path_violation_rate"),
    ("CVSS mean per-metric accuracy", "cvss.mean_accuracy"),
    ("CVSS exact vector", "cvss.exact_vector"),
    ("CVSS base-score MAE", "cvss.base_score_mae"),
    ("ATT&CK CTID recall@5", "attack_ctid_recall@5"),
)


def table(metrics: dict[str, Any]) -> str:
    names = ("accurate", "linear", "int8", "majority")
    shown = {"int8": "fine-tuned"}
    head = " | ".join(f"{p} {shown.get(n, n)}" for p in ("p1", "p2") for n in names)
    lines = [f"| figure | {head} |", "|---|" + "---:|" * 2 * len(names)]
    for label, key in ROWS:
        cells = []
        for protocol in ("p1", "p2"):
            for name in names:
                scope = metrics[protocol][name]
                value = scope.get(key) if name == "majority" else scope["all"].get(key)
                if value is None and name != "majority":
                    value = scope.get(key)  # ATT&CK is reported beside "all"
                cells.append("–" if value is None else f"{value:.4f}".rstrip("0").rstrip("."))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
