"""Headers on every answer: the security headers and the one place that sets
``Cache-Control``."""

from __future__ import annotations

from flask import Flask, request


def cache_control(response):
    """The one place that sets ``Cache-Control``: every answer but a static file is
    ``no-store`` (pages of signed-in accounts with their CSV, PDF and SVG, participant pages,
    the API), whatever a view set. Static files keep Flask's revalidation."""
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response



def init_app(app: Flask) -> None:
    hsts = str(app.config["AFTERCARE_BASE_URL"]).startswith("https:")

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if hsts:
            response.headers.setdefault("Strict-Transport-Security",
                                        "max-age=31536000; includeSubDomains")
        return cache_control(response)
