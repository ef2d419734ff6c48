"""Use cases, each owning the one commit of its transaction; they take what they need as
arguments (session, clock, settings) and raise domain errors (``surveys.errors``).

Survey life: ``lifecycle`` (intake, open, remind, close, the tick), ``participant`` (the
answer), ``checkin``, ``retention``. Release decisions: ``decisions`` (when figures are
decided, in which order), ``releases`` (recording and reading them), ``ledger`` (the
differencing audit's memory), ``findings`` (the flags decided with a figure). What pages
read: ``results`` (an incident), ``pools``, ``periods`` (a team's periods), ``overview``
(HR), ``reports`` (chart lines and the quarterly PDF), ``learning``, ``scores`` (scores from
released counts), ``policies``. Accounts and the organisation: ``admin``, ``auth``, ``sso``,
``apikeys``, ``access``, ``audit``, ``delivery``, ``review``.

Services may import the domain, ``analysis`` and the ``surveys.mail`` transport; never Flask,
the web, the API or the command line.
"""
