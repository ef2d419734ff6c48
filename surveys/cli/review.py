"""``lint-review FILE``: the review language check on a draft, from a file or stdin."""

from __future__ import annotations

import json

import click

from analysis import language


@click.command("lint-review")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--fail-on", type=click.Choice(list(language.SEVERITIES)), default="warning",
              show_default=True, help="Exit 1 when a finding is at least this severe.")
@click.option("--name", "names", multiple=True,
              help="A person's name to flag in the text; repeatable.")
def lint_review(file: str, fmt: str, fail_on: str, names: tuple[str, ...]) -> None:
    """Check a review draft (FILE, or - for stdin) for blame-loaded wording."""
    with click.open_file(file, "rb") as handle:
        raw = handle.read(MAX_LINT_BYTES + 1)
    if len(raw) > MAX_LINT_BYTES:
        raise click.ClickException(f"{file} is larger than {MAX_LINT_BYTES // 2**20} MB; "
                                   "check it in parts.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file} is not UTF-8 text.") from exc
    report = language.check(text, list(names))
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(text, report)
    if any(language.severity_at_least(f.severity, fail_on) for f in report.findings):
        raise SystemExit(1)


MAX_LINT_BYTES = 8 * 2**20


def _print_report(text: str, report: language.Report) -> None:
    if report.notice:
        click.echo(report.notice)
    for finding in report.findings:
        line = text.count("\n", 0, finding.start) + 1
        column = finding.start - (text.rfind("\n", 0, finding.start) + 1) + 1
        click.echo(f"{line}:{column}: {finding.severity}: "
                   f"{language.CATEGORIES[finding.category]}: \"{finding.text}\"")
        click.echo(f"    {finding.explanation}")
        for suggestion in finding.suggestions:
            click.echo(f"    try: {suggestion}")
    counts = ", ".join(f"{language.CATEGORIES[c]} {n}" for c, n in report.summary.items() if n)
    click.echo(f"{len(report.findings)} finding(s)" + (f": {counts}" if counts else ""))
    click.echo(f"note: {report.limits[0]}")
