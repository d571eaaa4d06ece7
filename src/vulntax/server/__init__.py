"""``vulntax serve``: the HTTP service and the analyst web page.

Build the app with :func:`vulntax.server.app.create_app` over a loaded
:class:`~vulntax.predictor.Predictor`; ``docs/api.md`` describes the API. Importing
this package is cheap; :mod:`vulntax.server.app` imports FastAPI.
"""
