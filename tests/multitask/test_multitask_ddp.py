"""The training loop under torchrun: two CPU processes (gloo) train a tiny multitask model
on real records with DistributedDataParallel and end with identical weights."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import TINY

SCRIPT = """
import json, os, sys
from pathlib import Path
import torch
from safetensors.torch import save_file
from vulntax.dataset.store import load_dataset
from vulntax.models.data import cwe_roll_up, load_examples
from vulntax.models.multitask.model import MultitaskModel
from vulntax.taxonomy import load_catalog
from vulntax.train import parse_config

dataset_dir, data_dir, out, settings = sys.argv[1:5]
config = parse_config(json.loads(settings))
dataset = load_dataset(dataset_dir)
catalog = load_catalog(Path(data_dir))
train = load_examples(dataset, ["train"], config.data, training=True)
cal = load_examples(dataset, ["validation"], config.data, training=False, sources=True)
classes = cwe_roll_up([g[0] for g in train.cwe_gold if g], catalog.cwe, 3)
meta = {"training": {"seed": 1}, "dataset": {"path": dataset_dir}}
model = MultitaskModel.fit(meta, config.params, train, cal, classes, catalog, log=print)
rank = int(os.environ["RANK"])
state = {k: v.detach().contiguous() for k, v in model.pipeline.state_dict().items()}
save_file(state, str(Path(out) / f"rank{rank}.safetensors"))
world = torch.distributed.get_world_size()
(Path(out) / f"rank{rank}.json").write_text(json.dumps({"world": world, "rank": rank}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_processes_end_with_identical_weights(
    mini_dataset: Path, data_dir: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    script = tmp_path / "train_ddp.py"
    script.write_text(SCRIPT, encoding="utf-8")
    settings = {
        **TINY,
        "multitask": {
            **TINY["multitask"],
            "pretrain_steps": 0,
            "epochs": 2,
            "progressive_epochs": 1,
            "teacher_epochs": 1,
            "threads": 1,
        },
    }
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        str(script), str(mini_dataset), str(data_dir), str(tmp_path), json.dumps(settings),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # each rank writes its own file: the two processes' stdout can interleave mid-line
    for rank in (0, 1):
        seen = json.loads((tmp_path / f"rank{rank}.json").read_text(encoding="utf-8"))
        assert seen == {"world": 2, "rank": rank}
    first = load_file(str(tmp_path / "rank0.safetensors"))
    second = load_file(str(tmp_path / "rank1.safetensors"))
    assert first.keys() == second.keys() and any(k.startswith("encoder.") for k in first)
    for name, tensor in first.items():
        assert (tensor == second[name]).all(), name


@pytest.fixture(autouse=True)
def _needs_distributed() -> None:
    import torch.distributed

    if not torch.distributed.is_available():
        pytest.skip("this torch build has no torch.distributed")
