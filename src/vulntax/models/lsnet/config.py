"""The settings of the ``lsnet`` kind (the ``[lsnet]`` table of a training config).

No torch import: a config is checked before anything heavy is loaded. The CPU
defaults are sized so that training on the full training split (≈95k NVD-scored
descriptions of protocol 1) stays within 30 minutes on 2 cores; ``max_minutes``
enforces that budget by ending training early, and the model card says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vulntax.errors import ConfigError


@dataclass
class LSNetConfig:
    # ---- token embedding → Transformer encoder (trained from scratch, WordPiece tokenizer)
    vocab: int = 8000
    max_length: int = 128  # tokens per description (longer ones are truncated)
    dim: int = 128
    layers: int = 1
    heads: int = 4
    # ---- TextCNN
    kernel_sizes: list[int] = field(default_factory=lambda: [2, 3, 4, 5])
    filters: int = 96  # per kernel size
    hidden: int = 128  # the fully connected layer before the eight softmax heads
    dropout: float = 0.2
    # ---- cluster bias (the clustering analysis' feature space, docs/analysis.md)
    cluster_bias: bool = True  # off: plain convolution biases (the ablation)
    clusters: int = 8
    cluster_components: int = 50  # PCA components the clusters live in
    cluster_features: int = 20000  # TF-IDF terms of the cluster space
    cluster_sample: int = 20000  # descriptions the space is fitted on
    # ---- training: cross-entropy per metric, Adam
    epochs: int = 4
    batch_size: int = 64
    lr: float = 1e-3
    label_smoothing: float = 0.0
    max_minutes: float | None = 28.0  # stop training after this long (None: all epochs)
    threads: int | None = None  # torch CPU threads (default: torch's choice)
    log_every: int = 300  # log the running loss every N steps (0: once per epoch)

    def __post_init__(self) -> None:
        for name in ("vocab", "dim", "layers", "heads", "filters", "hidden", "epochs",
                     "batch_size", "clusters", "cluster_components", "cluster_features",
                     "cluster_sample"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ConfigError(f"lsnet.{name} must be at least 1")
        if self.vocab < 200:
            raise ConfigError("lsnet.vocab must be at least 200")
        if not 8 <= self.max_length <= 512:
            raise ConfigError("lsnet.max_length must be between 8 and 512 tokens")
        if self.dim % self.heads:
            raise ConfigError("lsnet.dim must be a multiple of lsnet.heads")
        if len(self.kernel_sizes) != 4 or any(k < 1 or k > 16 for k in self.kernel_sizes):
            raise ConfigError("lsnet.kernel_sizes must be four sizes between 1 and 16")
        if self.clusters < 2:
            raise ConfigError("lsnet.clusters must be at least 2")
        if self.cluster_sample < 10 * self.clusters:
            raise ConfigError("lsnet.cluster_sample must be at least 10 × lsnet.clusters")
        if not 0 <= self.dropout < 1:
            raise ConfigError("lsnet.dropout must be in [0, 1)")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError("lsnet.label_smoothing must be in [0, 1)")
        if self.lr <= 0:
            raise ConfigError("lsnet.lr must be positive")
        if self.max_minutes is not None and self.max_minutes <= 0:
            raise ConfigError("lsnet.max_minutes must be positive (or left out for no limit)")
        if self.threads is not None and self.threads < 1:
            raise ConfigError("lsnet.threads must be at least 1")
        if self.log_every < 0:
            raise ConfigError("lsnet.log_every must not be negative")
