"""Rendering shared by every medium: what each message family says, and which buttons it has.

A service view goes into a message family (`deployments`, `alerts`, `listings`,
`replies`) with the `Markup` of one medium and comes out as a `Document`
(document.py); Slack lays it out as Block Kit (slack/blocks.py), the console as
lines of rich markup (entrypoints/terminal.py). `words` holds the plain phrases
both use; `actions` decides the buttons.
"""
