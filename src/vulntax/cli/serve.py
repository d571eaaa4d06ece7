"""``vulntax serve``: the HTTP API and the analyst web page over one loaded model."""

from __future__ import annotations

import typer

from vulntax.cli.options import MODEL_OPTION


def register(app: typer.Typer) -> None:
    app.command()(serve)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, help="TCP port to listen on."),
    model: str = MODEL_OPTION,
    data_dir: str = typer.Option(
        None, "--data-dir", help="Use this data folder's catalogs instead of the shipped snapshot."
    ),
    access_log: bool = typer.Option(True, help="Log one line per request."),
    predict_in: str = typer.Option(
        None,
        help="Predict in a 'process' of its own (HTTP and prediction on two cores; the model "
        "is loaded twice) or in a 'thread' of the HTTP process (default: process with one "
        "worker, thread with several).",
    ),
    workers: int = typer.Option(
        1,
        help="HTTP worker processes sharing the port, each with its own copy of the model "
        "and a prediction thread (docs/api.md measures 1 and 2).",
    ),
) -> None:
    """Serve the prediction API (/v1/...) and the analyst web page (/) over HTTP."""
    from vulntax.errors import UsageError

    if predict_in is None:
        predict_in = "process" if workers == 1 else "thread"
    if predict_in not in ("process", "thread"):
        raise UsageError(f"--predict-in must be 'process' or 'thread' (got {predict_in!r})")
    if not 1 <= workers <= 32:
        raise UsageError(f"--workers must be between 1 and 32 (got {workers})")
    if workers > 1 and predict_in == "process":
        raise UsageError("--predict-in process goes with one worker; several predict in threads")
    if not 0 < port < 65536:
        raise UsageError(f"--port must be between 1 and 65535 (got {port})")
    _check_free(host, port)
    if workers > 1:
        _serve_workers(host, port, model, data_dir, access_log, workers)
        return

    import uvicorn

    from vulntax.predictor import Predictor
    from vulntax.runtime import for_prediction
    from vulntax.server.app import create_app

    predictor = Predictor(model, data_dir=data_dir)
    for_prediction()  # one BLAS thread, the loaded model out of the GC
    worker = None
    if predict_in == "process":
        from vulntax.server.process import PredictionProcess

        worker = PredictionProcess(model, data_dir)
    app = create_app(predictor, predict_batch=worker.predict_batch if worker else None)
    shown = f"[{host}]" if ":" in host else host
    info = predictor.model_info
    typer.echo(
        f"vulntax serve: model {info['name']} {info['version']} on http://{shown}:{port}/ "
        "(Ctrl-C stops)",
        err=True,
    )
    try:
        uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info")
    finally:
        if worker is not None:
            worker.close()


def _serve_workers(
    host: str, port: int, model: str | None, data_dir: str | None, access_log: bool, workers: int
) -> None:
    """uvicorn's supervisor over ``workers`` spawned processes (vulntax.server.workers)."""
    import os

    import uvicorn

    from vulntax.predictor import Predictor
    from vulntax.server.workers import APP_FACTORY, environment

    info = Predictor(model, data_dir=data_dir).model_info  # a bad model: one line, now
    os.environ.update(environment(None if model is None else str(model), data_dir))
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"vulntax serve: model {info['name']} {info['version']} on http://{shown}:{port}/ "
        f"in {workers} worker processes (Ctrl-C stops)",
        err=True,
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
    )


def _check_free(host: str, port: int) -> None:
    """A clear error now, rather than a uvicorn traceback after the model has loaded."""
    import socket

    from vulntax.errors import UsageError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: not an address of this machine ({exc.strerror})") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise UsageError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port or --host"
            ) from exc
