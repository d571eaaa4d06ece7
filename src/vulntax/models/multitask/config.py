"""The settings of the ``multitask`` kind (the ``[multitask]`` table of a training config).

Every training component the design names can be switched off here, so that
each one's effect is measured by training with and without it
(``bench/multitask_ablation.py``). No torch import: a config is checked before
anything heavy is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vulntax.errors import ConfigError

ENCODERS = ("minilm", "scratch")


@dataclass
class MultitaskConfig:
    # ---- shared encoder
    encoder: Literal["minilm", "scratch"] = "minilm"
    # MiniLM is frozen (embeddings computed once, and cached) unless fine_tune is set, which
    # needs a GPU to be affordable; the from-scratch Transformer always trains with the heads
    fine_tune: bool = False
    max_length: int = 128  # tokens per text (9 % of NVD descriptions are longer)
    embedding_cache: str | None = None  # folder for frozen-encoder embeddings (never the repo)
    # the from-scratch Transformer (encoder = "scratch")
    scratch_vocab: int = 8000
    scratch_layers: int = 2
    scratch_dim: int = 256
    scratch_heads: int = 4
    # ---- heads
    hidden: int = 256  # width of the shared trunk (every head reads it)
    token_dim: int = 64  # width of each head's own token (the cross-attention's width)
    dropout: float = 0.1
    cross_attention: bool = True  # each head attends over the other heads' representations
    attention_heads: int = 4
    # CWE output: "flat" softmax over classes, "levels" (product of the per-level softmaxes
    # along each class's View-1000 path), or "combined" (both multiplied, renormalised)
    cwe_output: Literal["flat", "levels", "combined"] = "combined"
    # ---- training
    epochs: int = 12
    batch_size: int = 256
    lr: float = 2e-3
    encoder_lr: float = 5e-5  # trainable encoders (fine-tuning, or the scratch Transformer)
    weight_decay: float = 0.01
    label_smoothing: float = 0.05
    progressive: bool = True  # top-down: CWE levels enter coarse first, the classes last
    progressive_epochs: int = 4  # epochs of the coarse-to-fine phase (then all heads train)
    constraint_weight: float = 0.5  # child-more-probable-than-parent penalty; 0 = off
    distillation: bool = True  # CWE/CVSS teacher → soft CAPEC and ATT&CK targets
    teacher_epochs: int = 6
    distill_temperature: float = 2.0
    distill_weight: float = 1.0
    attack_kev: bool = True  # learn ATT&CK from the analysts' KEV mappings (attack_kev)
    contrastive_weight: float = 0.05  # align linked CWE/CAPEC/ATT&CK label embeddings; 0 = off
    contrastive_temperature: float = 0.1
    # ---- hierarchy-aware domain pre-training of a trainable encoder (0 steps = off)
    pretrain_steps: int = 0
    pretrain_batch_size: int = 32
    pretrain_lr: float = 5e-4
    pretrain_mask_rate: float = 0.15
    pretrain_aux_weight: float = 0.5  # auxiliary loss: predict the text's CWE pillar
    # ---- end-to-end fine-tuning (trainable encoders; docs/finetune.md)
    # "teacher": a separate CWE/CVSS network trained first gives the soft CAPEC/ATT&CK
    # targets; "online": the model's own (detached) CWE head does, at no extra cost
    distillation_mode: Literal["teacher", "online"] = "teacher"
    max_minutes: float = 0.0  # wall-clock budget of the main phase (0: epochs only)
    warmup: float = 0.06  # share of the budget spent warming the learning rate up
    length_buckets: bool = True  # batches of texts of similar length (less padding)
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA
    checkpoint_dir: str | None = None  # resumable checkpoints of the main phase
    checkpoint_minutes: float = 10.0
    eval_rows: int = 2000  # validation rows scored for early stopping (0: off)
    eval_minutes: float = 0.0  # score them every N minutes too (0: at epoch ends only)
    patience: int = 2  # evaluations without improvement before stopping (0: never stop)
    threads: int | None = None  # torch CPU threads (default: torch's choice)
    log_every: int = 0  # log the loss every N epochs (0: at the end of each phase only)

    def __post_init__(self) -> None:
        positive_ints = (
            "max_length",
            "scratch_vocab",
            "scratch_layers",
            "scratch_dim",
            "scratch_heads",
            "hidden",
            "token_dim",
            "attention_heads",
            "epochs",
            "batch_size",
            "pretrain_batch_size",
        )
        for name in positive_ints:
            if getattr(self, name) < 1:
                raise ConfigError(f"multitask.{name} must be at least 1")
        if self.max_length < 8 or self.max_length > 512:
            raise ConfigError("multitask.max_length must be between 8 and 512 tokens")
        if self.scratch_vocab < 200:
            raise ConfigError("multitask.scratch_vocab must be at least 200")
        if self.scratch_dim % self.scratch_heads:
            raise ConfigError("multitask.scratch_dim must be a multiple of multitask.scratch_heads")
        if self.token_dim % self.attention_heads:
            raise ConfigError("multitask.token_dim must be a multiple of multitask.attention_heads")
        if not 0 <= self.dropout < 1:
            raise ConfigError("multitask.dropout must be in [0, 1)")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("multitask.label_smoothing must be in [0, 1)")
        for name in ("lr", "encoder_lr", "pretrain_lr", "distill_temperature"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"multitask.{name} must be positive")
        for name in (
            "weight_decay",
            "constraint_weight",
            "distill_weight",
            "contrastive_weight",
            "pretrain_aux_weight",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"multitask.{name} must not be negative")
        if self.contrastive_temperature <= 0:
            raise ConfigError("multitask.contrastive_temperature must be positive")
        for name in ("progressive_epochs", "teacher_epochs", "pretrain_steps", "log_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"multitask.{name} must not be negative")
        if self.progressive and self.progressive_epochs >= self.epochs:
            raise ConfigError(
                "multitask.progressive_epochs must be fewer than multitask.epochs "
                "(the last epochs train every head together)"
            )
        if not 0 < self.pretrain_mask_rate < 1:
            raise ConfigError("multitask.pretrain_mask_rate must be in (0, 1)")
        if self.pretrain_steps and not self.trainable_encoder:
            raise ConfigError(
                "multitask.pretrain_steps needs a trainable encoder: set fine_tune = true "
                "(fine-tuning MiniLM needs a GPU) or encoder = 'scratch'"
            )
        for name in ("max_minutes", "checkpoint_minutes", "eval_minutes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"multitask.{name} must not be negative")
        if not 0 <= self.warmup < 1:
            raise ConfigError("multitask.warmup must be in [0, 1)")
        if self.eval_rows < 0 or self.patience < 0:
            raise ConfigError("multitask.eval_rows and multitask.patience must not be negative")
        if self.threads is not None and self.threads < 1:
            raise ConfigError("multitask.threads must be at least 1")

    @property
    def trainable_encoder(self) -> bool:
        return self.encoder == "scratch" or self.fine_tune
