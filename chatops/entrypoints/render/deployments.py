"""What a deployment's message says, in any medium: the one channel message of a deployment,
re-rendered on every state change, and the notice that a release has soaked."""

from __future__ import annotations

from chatops.domain.deployment import ENDED_STATES, Deployment, Kind, State
from chatops.domain.verification import RunState
from chatops.entrypoints.render import words
from chatops.entrypoints.render.actions import deployment_actions, soaked_actions
from chatops.entrypoints.render.document import (
    SECTION_LIMIT,
    Document,
    Fields,
    Header,
    Markup,
    Note,
    Part,
    Section,
    people,
)
from chatops.services.views import DeploymentView

__all__ = ["MAX_CHANGES", "SUBJECT_WIDTH", "commit_line", "deployment", "soaked"]

MAX_CHANGES = 10
_VERIFIED = {
    RunState.RUNNING: "📏",
    RunState.PASSED: "✅",
    RunState.FAILED: "❌",
    RunState.INCONCLUSIVE: "❓",
}
SUBJECT_WIDTH = 100


def deployment(view: DeploymentView, m: Markup) -> Document:
    """The message of one deployment: what, who, how it went, what changes, who decided."""
    headline = words.headline(view.deployment)
    return Document(
        text=_notification(view, headline, m),
        parts=(
            Header(headline),
            Fields(_summary(view, m)),
            *_outcome(view, m),
            *_notes(view, m),
            *_changes(view, m),
            *_decision(view, m),
        ),
        actions=deployment_actions(view),
    )


def soaked(view: DeploymentView, m: Markup) -> Document:
    """`mybot v3 has soaked in staging — ready to promote to prod`, with a Promote button."""
    deployment = view.deployment
    what = f"{deployment.bot} {words.target(deployment)}"
    where = f" to {view.promote_to}" if view.promote_to else ""
    text = f"{what} has soaked in {deployment.env} — ready to promote{where}"
    commit = commit_line(view, m)
    details = [commit] if commit else []
    since = deployment.healthy_since or deployment.live_at
    if since is not None:
        healthy = f"healthy since {m.moment(since)}"
        if view.now is not None:
            healthy += f" ({words.between(since, view.now)})"
        details.append(healthy)
    parts: list[Part] = [Section(f"⏱️ {m.text(text)}")]
    if details:
        parts.append(Note(" · ".join(details)))
    return Document(m.text(text), tuple(parts), soaked_actions(view))


def commit_line(view: DeploymentView, m: Markup) -> str | None:
    """`1a2b3c4d Fix the greeting`: the commit deployed, with its subject when known."""
    release, deployment = view.release, view.deployment
    sha = release.commit if release else deployment.commit
    if not sha:
        return None
    subject = release.subject if release else ""
    line = m.code(sha[:8])
    return f"{line} {m.text(subject, SUBJECT_WIDTH)}" if subject else line


def _notification(view: DeploymentView, headline: str, m: Markup) -> str:
    """The headline, and who decided or why it ended."""
    deployment = view.deployment
    text = m.text(headline)
    if deployment.state is State.REJECTED and view.decided_by:
        return f"{text} by {m.person(view.decided_by)}"
    if deployment.state in ENDED_STATES and deployment.reason:
        return f"{text} — {m.text(deployment.reason, 300)}"
    return text


def _summary(view: DeploymentView, m: Markup) -> tuple[tuple[str, str], ...]:
    deployment = view.deployment
    pairs: list[tuple[str, str]] = [
        ("Bot", m.text(deployment.bot)),
        ("Environment", m.text(deployment.env)),
        ("Version", _version(deployment, m)),
        ("Kind", _kind(deployment)),
    ]
    commit = commit_line(view, m)
    if commit:
        pairs.append(("Commit", commit))
    pairs.append(("Requested by", m.person(deployment.requested_by)))
    pairs.append(("Requested", m.moment(deployment.requested_at)))
    elapsed = words.elapsed(view)
    if elapsed:
        pairs.append(elapsed)
    if view.previous is not None:
        rolling_back = deployment.kind in (Kind.ROLLBACK, Kind.AUTO_ROLLBACK)
        pairs.append(("Rolled back from" if rolling_back else "Previous", view.previous.name))
    if view.tally is not None:
        tally = view.tally
        count = f"{len(tally.approved_by)} of {tally.needed}"
        approvals = f"{count}: {people(m, tally.approved_by)}" if tally.approved_by else count
        pairs.append(("Approvals", approvals))
    return tuple(pairs)


def _kind(deployment: Deployment) -> str:
    label = words.KIND_LABEL.get(deployment.kind, str(deployment.kind))
    return f"{label} · #{deployment.id}" if deployment.id is not None else label


def _version(deployment: Deployment, m: Markup) -> str:
    if deployment.version:
        return f"v{deployment.version}"
    if deployment.ref:
        return f"{m.code(words.cut(deployment.ref, 200))} (not built yet)"
    return "branch head (not built yet)"


def _outcome(view: DeploymentView, m: Markup) -> list[Part]:
    """Why it failed, with the end of the build output; why chatops rolled back by itself."""
    deployment = view.deployment
    parts: list[Part] = []
    if deployment.kind in (Kind.ROLLBACK, Kind.AUTO_ROLLBACK) and deployment.request_reason:
        # why it was asked for, kept when it then fails or is rejected
        asked = m.text(deployment.request_reason, SECTION_LIMIT - 40)
        parts.append(Section(f"{m.strong('Why:')} {asked}"))
    if deployment.state is not State.FAILED:
        return parts
    why = deployment.reason or "no reason was recorded"
    parts.append(Section(f"{m.strong('Why it failed:')} {m.text(why, SECTION_LIMIT - 40)}"))
    if deployment.log_tail.strip():
        title = m.strong("Last lines of the output:") + "\n"
        output = m.output(deployment.log_tail, limit=SECTION_LIMIT - len(title))
        parts.append(Section(title + output))
    return parts


def _notes(view: DeploymentView, m: Markup) -> list[Part]:
    deployment = view.deployment
    notes: list[Part] = []
    if deployment.force_reason:
        notes.append(
            Note(
                f"⚠️ Forced by {m.person(deployment.requested_by)} past a lock or freeze: "
                f"{m.text(deployment.force_reason, 500)}"
            )
        )
    if view.hold_note:
        notes.append(Note(f"🔒 {m.text(view.hold_note, 500)}"))
    if view.verification is not None and deployment.state is State.LIVE:
        notes.append(
            Note(f"{_VERIFIED[view.verification.state]} {m.text(view.verification.summary(), 500)}")
        )
    if view.page_url:
        notes.append(Note(f"🔎 {m.link(view.page_url, 'details and build log')}"))
    if deployment.in_progress and deployment.cancel_requested_by:
        notes.append(
            Note(
                f"✋ {m.person(deployment.cancel_requested_by)} cancelled it: it stops at its "
                "next step, and the previous release runs on"
            )
        )
    return notes


def _changes(view: DeploymentView, m: Markup) -> list[Part]:
    if not view.changes:
        return []
    since = f" since {view.previous.name}" if view.previous else ""
    title = m.strong(m.text(f"What changes{since}"))
    if view.compare_url:
        title += f" · {m.link(view.compare_url, 'compare')}"
    lines = [title]
    for commit in view.changes[:MAX_CHANGES]:
        author = f" — {m.text(commit.author, 40)}" if commit.author else ""
        lines.append(f"• {m.code(commit.short)} {m.text(commit.subject, SUBJECT_WIDTH)}{author}")
    more = view.more_changes + max(0, len(view.changes) - MAX_CHANGES)
    if more:
        lines.append(f"… and {more} more")
    return [Section("\n".join(lines))]


def _decision(view: DeploymentView, m: Markup) -> list[Part]:
    """Who decided a request that needed a decision, and when (instead of its buttons)."""
    state = view.deployment.state
    text: str | None
    if state is State.PENDING_APPROVAL:
        text = _waiting(view, m)
    elif state in (State.REJECTED, State.EXPIRED, State.SUPERSEDED):
        text = _ended(view, m)
    else:
        text = _approved(view, m)
    return [Note(text)] if text else []


def _ended(view: DeploymentView, m: Markup) -> str:
    deployment = view.deployment
    ended = deployment.finished_at or deployment.updated_at
    if deployment.state is State.REJECTED:
        by = view.decided_by or (view.tally.rejected_by if view.tally else None)
        text = f"🚫 Rejected by {m.person(by)} · {m.moment(ended)}"
        # the reason given with the reject, without the "rejected by" it is recorded with
        why = (deployment.reason or "").removeprefix(f"rejected by {by}").removeprefix(": ")
        if why:
            text += f": {m.text(why, 1000)}"
        return text
    if deployment.state is State.EXPIRED:
        why = deployment.reason or "no decision within the approval time"
        took = words.between(deployment.requested_at, ended)
        return f"⌛ Expired after {took}: {m.text(why, 1000)}"
    why = deployment.reason or f"a newer release went live in {deployment.env}"
    return f"⏭️ Superseded · {m.moment(ended)}: {m.text(why, 1000)}"


def _approved(view: DeploymentView, m: Markup) -> str | None:
    tally = view.tally
    if tally is not None and tally.complete and tally.approved_by:
        return f"👍 Approved by {people(m, tally.approved_by)}"
    if view.decided_by:
        return f"👍 Approved by {m.person(view.decided_by)}"
    return None


def _waiting(view: DeploymentView, m: Markup) -> str:
    tally = view.tally
    missing = tally.missing if tally else 1
    approvals = "approval" if missing == 1 else "approvals"
    return (
        f"Waiting for {missing} more {approvals} from {m.text(view.deployment.env)}'s "
        f"approvers: press {m.strong('Approve')} or react with ✅. The requester's own approval "
        "does not count."
    )
