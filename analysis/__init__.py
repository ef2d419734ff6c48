"""Pure functions and data: the item bank (``items``), the release guard (``release``,
``suppression``, ``audit``), calendar periods and series (``periods``, ``series``), sealing
and scoring (``sealing``, ``stats``), flags (``flags``), charts (``charts``, Figure API) and
the review language check (``language``).

Arrays, mappings or dataclasses in, small result dataclasses out; invalid input raises
``ValueError``. Nothing here imports Flask, the database or ``surveys``
(``tests/unit/test_layout.py``).
"""
