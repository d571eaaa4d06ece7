"""Feature analysis of the descriptions: the clustering study of LSNet (SEEDS.md, method 2).

:mod:`vulntax.analysis.space` is the feature space and cluster membership that the
LSNet model reuses; :mod:`vulntax.analysis.clusters` sweeps the number of clusters and
scores it; :mod:`vulntax.analysis.report` draws the figures and writes the report.
"""
