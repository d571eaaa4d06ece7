"""Model kind ``lsnet``: Transformer + TextCNN per CVSS base metric, cluster-biased convolutions.

See ``docs/lsnet.md`` for the design and the measured comparison with the linear model.
"""
