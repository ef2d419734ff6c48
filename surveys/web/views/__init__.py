"""Blueprints, one per family of pages. A view parses the request, calls one service, and
renders; domain errors become pages in ``surveys.web.errors``. Views may import services,
the domain, ``analysis`` (charts, periods) and ``surveys.web``; never another view module
but ``audit`` (the audit decorators)."""
