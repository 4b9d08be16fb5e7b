"""The CLI's tables (`chatops status`, `chatops releases`, the demo's end) as a terminal shows."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console as RichConsole

from chatops.entrypoints import output
from tests.unit.test_blocks import release_rows, status_rows

RICH_EVIL = "[bold red]alarm[/bold red] [link=https://evil.example]x[/link] [/] \\"


def test_the_cli_tables_show_what_people_wrote_as_text() -> None:
    """A lock reason or a commit subject with `[/]` in it crashed `chatops status` and
    `chatops releases` (rich's MarkupError); `[red]` coloured them."""
    rows = status_rows()
    lock = rows[1].lock
    assert lock is not None
    rows[1] = dataclasses.replace(rows[1], lock=dataclasses.replace(lock, reason=RICH_EVIL))
    releases = release_rows()
    first = dataclasses.replace(releases[0].release, subject="fix [/] and [red]x[/red]")
    releases[0] = dataclasses.replace(releases[0], release=first)
    screen = io.StringIO()
    out = RichConsole(file=screen, width=400, highlight=False, soft_wrap=True)
    out.print(output.status_table(rows))
    out.print(output.releases_table(releases, bot="mybot"))
    shown = screen.getvalue().replace("\u200b", "")  # keeps a trailing backslash single
    assert f"locked by U0LEAD1 until 2025-06-02 11:30 UTC: {RICH_EVIL}" in shown
    assert "fix [/] and [red]x[/red]" in shown
