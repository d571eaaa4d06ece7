"""Model kind ``multitask``: a shared text encoder with one head per taxonomy.

Modules, one concept each: :mod:`.config` (settings), :mod:`.encoders` (MiniLM and
the from-scratch Transformer behind one interface), :mod:`.cache` (frozen
embeddings on disk), :mod:`.hierarchy` (CWE levels and decoding), :mod:`.heads`
(per-taxonomy heads and cross-taxonomy attention), :mod:`.losses`,
:mod:`.targets` (labels and distilled soft targets), :mod:`.pretraining` (MLM +
CWE-pillar objective), :mod:`.training` (the loop, DDP-ready), :mod:`.fit`
(the phases) and :mod:`.model` (the :class:`~vulntax.models.base.Classifier`).

Importing this package imports nothing heavy; :mod:`.model` imports torch.
"""
