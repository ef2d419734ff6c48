"""The app under a sampling profiler, for finding where a request's time goes.

``gunicorn -c gunicorn.conf.py 'bench.profiled:create_app()'`` with ``WEB_CONCURRENCY=1``:
every request is sampled by pyinstrument and the merged profile is written to
``$AFTERCARE_PROFILE_OUT`` (text) when the worker exits. Used by ``python -m bench.load
--profile``; never in production.
"""

from __future__ import annotations

import atexit
import os

from pyinstrument import Profiler

from app import create_app as _create_app


def create_app():
    app = _create_app()
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    inner = app.wsgi_app

    def profiled(environ, start_response):
        profiler.start()
        try:
            return inner(environ, start_response)
        finally:
            profiler.stop()

    def write() -> None:
        out = os.environ.get("AFTERCARE_PROFILE_OUT", "profile.txt")
        with open(out, "w") as handle:
            handle.write(profiler.output_text(unicode=False, color=False))
            handle.write("\nBy own time, in every module:\n")
            handle.write(profiler.output_text(unicode=False, color=False, flat=True,
                                              show_all=True)[:6000])

    app.wsgi_app = profiled
    atexit.register(write)
    return app
