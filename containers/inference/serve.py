"""Start the inference server: ``serve [serve] [--model-dir DIR] [--port N] [--workers N] [--host H]``.

SageMaker runs the image as ``docker run IMAGE serve``; the options exist for running it on a
laptop or in tests, and override the environment variables of ``environment.py`` (they are
written back into the environment, which is where each worker process reads its settings).

The process layout is uvicorn's: this process binds the socket, then supervises
``workers`` worker processes (always, even for one worker) that each load the model and serve
the ASGI app of ``app.py`` on httptools and uvloop. The supervisor replaces a worker that dies
or stops answering its health pipe, so a crashed worker is a blip, not a dead endpoint. On
SIGTERM (what SageMaker sends before SIGKILL 30 s later) it stops the workers; each stops
accepting, finishes the requests in flight (for up to ``GRACEFUL_SHUTDOWN_SECONDS``), then
exits.

Exit codes: 0 after a shutdown; 2 when the settings are invalid or the image was started for
something other than serving (the message says which); 3 when the port cannot be bound or a
worker cannot start (uvicorn's startup-failure code). A model that fails to load is not a
startup failure: the server runs and /ping answers 503 with the reason.
"""

from __future__ import annotations

import argparse
import copy
import logging
import logging.config
import os
import sys
from collections.abc import Sequence

import uvicorn
from uvicorn.config import LOGGING_CONFIG, STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from containers.inference import environment
from containers.inference.environment import GRACEFUL_SHUTDOWN_SECONDS, Settings

EXIT_OK = 0
EXIT_BAD_SETTINGS = 2
EXIT_STARTUP_FAILURE = STARTUP_FAILURE  # 3

APP = "containers.inference.app:create_app"
DEFAULT_HOST = "0.0.0.0"  # inside the container: SageMaker connects from outside it

log = logging.getLogger("containers.inference.serve")


def log_config() -> dict:
    """uvicorn's logging setup plus this package's loggers on the same handler."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["containers.inference"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def uvicorn_config(settings: Settings, host: str) -> uvicorn.Config:
    """The server configuration every worker runs with."""
    return uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http="httptools",
        ws="none",
        lifespan="on",
        access_log=False,  # CloudWatch has SageMaker's invocation metrics; a line per request costs throughput
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        log_config=log_config(),
    )


_OPTION_ENV = {
    "model_dir": environment.MODEL_DIR_ENV,
    "port": environment.PORT_ENV,
    "workers": environment.WORKERS_ENV,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, check the settings, run the supervisor until SIGTERM."""
    parser = argparse.ArgumentParser(description="Serve the model of the training image (SageMaker inference contract).")
    parser.add_argument("mode", nargs="?", default="serve", help='"serve" (SageMaker passes it as the argument)')
    parser.add_argument("--model-dir", help=f"the model folder (default: ${environment.MODEL_DIR_ENV} or {environment.DEFAULT_MODEL_DIR})")
    parser.add_argument("--port", help=f"the port (default: ${environment.PORT_ENV} or {environment.DEFAULT_PORT})")
    parser.add_argument("--workers", help=f"worker processes (default: ${environment.WORKERS_ENV} or one per CPU)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="the address to bind (default %(default)s; 127.0.0.1 on a laptop)")
    args = parser.parse_args(argv)
    logging.config.dictConfig(log_config())
    if args.mode != "serve":
        log.error(
            "this is the inference image; it was started with %r instead of 'serve' (a training job must use the training image)",
            args.mode,
        )
        return EXIT_BAD_SETTINGS
    for option, variable in _OPTION_ENV.items():
        value = getattr(args, option)
        if value is not None:
            os.environ[variable] = value
    try:
        settings = environment.from_environment()
    except environment.SettingsError as exc:
        log.error("%s", exc)
        return EXIT_BAD_SETTINGS
    log.info(
        "serving %s on http://%s:%d with %d worker(s), request timeout %g s, body limit %d bytes",
        settings.model_dir,
        args.host,
        settings.port,
        settings.workers,
        settings.timeout_seconds,
        settings.max_body_bytes,
    )
    config = uvicorn_config(settings, args.host)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        return EXIT_STARTUP_FAILURE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
