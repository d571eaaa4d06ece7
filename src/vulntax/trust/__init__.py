"""Answers a user can trust: warnings and abstention beside every prediction.

* :mod:`~vulntax.trust.signals` — cheap per-text signals (reserved markers, language);
* :mod:`~vulntax.trust.model` — the fitted checks of one model (``trust.json``,
  ``trust.safetensors``) and how they change a prediction object;
* :mod:`~vulntax.trust.corpus` — offline text that is no vulnerability description;
* :mod:`~vulntax.trust.fit` — fitting the detector and choosing thresholds on validation;
* :mod:`~vulntax.trust.negation` — denial sentences dropped from the model input.
"""
