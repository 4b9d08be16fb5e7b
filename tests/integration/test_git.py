"""The git adapter against real local bare repositories."""

from __future__ import annotations

import tarfile
import threading
import time
from pathlib import Path

import git as gitpython
import pytest

from chatops.adapters.git import GitSourceControl
from chatops.domain.catalog import Bot
from chatops.errors import BadInput, NotFound, SourceControlError
from tests.conftest import BotRepo, git


@pytest.fixture
def source(tmp_path: Path) -> GitSourceControl:
    return GitSourceControl(
        tmp_path / "chatops", author_name="Chat Ops", author_email="ops@example.com"
    )


@pytest.fixture
def bot(bot_repo: BotRepo) -> Bot:
    return Bot(name="mybot", repo=str(bot_repo.remote))


def remote_tag(repo: BotRepo, tag: str) -> gitpython.TagReference:
    return gitpython.Repo(repo.remote).tags[tag]


# ── fetch and resolve ────────────────────────────────────────────────────


def test_resolve_branch_tag_and_shas(source: GitSourceControl, bot: Bot, bot_repo: BotRepo) -> None:
    first = bot_repo.head()
    git("tag", "-a", "-m", "one", "v1.0", cwd=bot_repo.work)
    git("push", "-q", "origin", "v1.0", cwd=bot_repo.work)
    second = bot_repo.commit("second version")
    source.fetch(bot)

    head = source.resolve(bot, "main")
    assert head.sha == second
    assert head.subject == "second version"
    assert head.author == "Ada Dev <ada@example.com>"
    assert source.resolve(bot, "v1.0").sha == first  # an annotated tag peels to its commit
    assert source.resolve(bot, first).sha == first
    assert source.resolve(bot, first[:7]).sha == first
    assert source.resolve(bot, first[:7].upper()).sha == first


def test_branch_wins_over_tag_of_the_same_name(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo
) -> None:
    first = bot_repo.head()
    git("push", "-q", "origin", f"{first}:refs/tags/main", cwd=bot_repo.work)
    second = bot_repo.commit("second version")
    source.fetch(bot)
    assert source.resolve(bot, "main").sha == second


def test_unknown_ref_is_not_found_with_the_branches(source: GitSourceControl, bot: Bot) -> None:
    source.fetch(bot)
    with pytest.raises(NotFound) as info:
        source.resolve(bot, "no-such-branch")
    assert "no-such-branch" in info.value.message
    assert "mybot" in info.value.message
    assert info.value.hint is not None
    assert "main" in info.value.hint


def test_unknown_sha_is_not_found(source: GitSourceControl, bot: Bot) -> None:
    source.fetch(bot)
    with pytest.raises(NotFound):
        source.resolve(bot, "0123456789abcdef0123456789abcdef01234567")


@pytest.mark.parametrize(
    "ref", ["--upload-pack=touch pwned", "-x", "a..b", "../x", "HEAD@{1}", "x.lock", "main^", "a b"]
)
def test_hostile_refs_are_refused_before_git_runs(
    source: GitSourceControl,
    bot: Bot,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ref: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    source.fetch(bot)
    with pytest.raises(BadInput):
        source.resolve(bot, ref)
    assert not list(tmp_path.rglob("pwned"))


def test_fetch_force_updates_tags_and_prunes(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo
) -> None:
    first = bot_repo.head()
    git("push", "-q", "origin", f"{first}:refs/heads/feature", cwd=bot_repo.work)
    git("tag", "-a", "-m", "staging", "mybot/staging", first, cwd=bot_repo.work)
    git("push", "-q", "origin", "mybot/staging", cwd=bot_repo.work)
    source.fetch(bot)
    assert source.resolve(bot, "mybot/staging").sha == first

    second = bot_repo.commit("second version")
    git("tag", "-a", "-f", "-m", "staging", "mybot/staging", second, cwd=bot_repo.work)
    git("push", "-q", "-f", "origin", "mybot/staging", ":refs/heads/feature", cwd=bot_repo.work)
    source.fetch(bot)
    assert source.resolve(bot, "mybot/staging").sha == second
    with pytest.raises(NotFound):
        source.resolve(bot, "feature")


def test_fetch_follows_a_changed_repo(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo, tmp_path: Path
) -> None:
    source.fetch(bot)
    other = tmp_path / "other.git"
    git("clone", "-q", "--bare", str(bot_repo.remote), str(other), cwd=tmp_path)
    old = bot_repo.head()
    new = bot_repo.commit("only in the other remote")
    git("push", "-q", "-f", "origin", f"{old}:refs/heads/main", cwd=bot_repo.work)
    git("push", "-q", str(other), f"{new}:refs/heads/main", cwd=bot_repo.work)

    moved = Bot(name="mybot", repo=str(other))
    source.fetch(moved)
    assert source.resolve(moved, "main").sha == new


def test_concurrent_first_fetches_share_one_mirror(bot: Bot, tmp_path: Path) -> None:
    workdir = tmp_path / "shared"
    errors: list[BaseException] = []

    def fetch() -> None:
        try:  # separate instances, as separate processes would be
            GitSourceControl(workdir).fetch(bot)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(p.name for p in (workdir / "git").iterdir()) == ["mybot.git", "mybot.lock"]
    assert GitSourceControl(workdir).resolve(bot, "main").sha


# ── unreachable remotes and credentials ──────────────────────────────────


@pytest.mark.parametrize("repo", ["{tmp}/does-not-exist.git", "http://127.0.0.1:9/x.git"])
def test_unreachable_remote_fails_quickly(
    source: GitSourceControl, tmp_path: Path, repo: str
) -> None:
    started = time.monotonic()
    with pytest.raises(SourceControlError, match="mybot"):
        source.fetch(Bot(name="mybot", repo=repo.format(tmp=tmp_path)))
    assert time.monotonic() - started < 10
    assert not (tmp_path / "chatops" / "git" / "mybot.git").exists()


def test_credentials_never_appear_in_errors(source: GitSourceControl) -> None:
    bot = Bot(name="mybot", repo="http://alice:s3cr%40tpass@127.0.0.1:9/x.git")
    with pytest.raises(SourceControlError) as info:
        source.fetch(bot)
    text = f"{info.value} {info.value.hint}"
    for secret in ("alice", "s3cr%40tpass", "s3cr@tpass"):
        assert secret not in text
    assert "127.0.0.1:9" in text


def test_a_hung_git_is_killed_after_the_timeout(tmp_path: Path, bot: Bot) -> None:
    source = GitSourceControl(tmp_path / "chatops", timeout=1)
    source.fetch(bot)
    mirror = tmp_path / "chatops" / "git" / "mybot.git"
    git("config", "remote.origin.uploadpack", "sleep 30; :", cwd=mirror)  # a remote that hangs
    started = time.monotonic()
    with pytest.raises(SourceControlError, match=r"fetch for mybot .* did not complete in 1 sec"):
        source.fetch(bot)
    assert time.monotonic() - started < 10


def test_an_unusable_workdir_is_a_source_control_error(bot: Bot, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SourceControlError):
        GitSourceControl(tmp_path / "file").fetch(bot)


# ── releases and environment tags ────────────────────────────────────────


def test_tag_release_pushes_an_annotated_tag(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo
) -> None:
    source.fetch(bot)
    commit = bot_repo.head()
    message = "mybot v1\n\n# built by chatops deployment #7, requested by U1."
    source.tag_release(bot, version=1, commit=commit, message=message)

    tag = remote_tag(bot_repo, "mybot/v1")
    assert tag.tag is not None  # annotated
    assert tag.commit.hexsha == commit
    assert tag.tag.message == message
    assert tag.tag.tagger.name == "Chat Ops"
    assert tag.tag.tagger.email == "ops@example.com"
    assert source.highest_release(bot) == 1


def test_tag_release_again_on_the_same_commit_changes_nothing(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo
) -> None:
    source.fetch(bot)
    commit = bot_repo.head()
    source.tag_release(bot, version=1, commit=commit, message="first")
    before = remote_tag(bot_repo, "mybot/v1").object.hexsha
    source.tag_release(bot, version=1, commit=commit, message="second")
    assert remote_tag(bot_repo, "mybot/v1").object.hexsha == before


def test_tag_release_never_moves_a_release_tag(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo
) -> None:
    first = bot_repo.head()
    source.fetch(bot)
    source.tag_release(bot, version=1, commit=first, message="v1")
    second = bot_repo.commit("second version")
    source.fetch(bot)
    with pytest.raises(SourceControlError, match=r"mybot/v1 already exists"):
        source.tag_release(bot, version=1, commit=second, message="v1 again")
    assert bot_repo.remote_tags()["mybot/v1"] == first


def test_tag_release_push_refused_leaves_no_local_tag(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo, tmp_path: Path
) -> None:
    source.fetch(bot)
    hook = bot_repo.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'tags are closed today' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(SourceControlError, match="tags are closed today"):
        source.tag_release(bot, version=1, commit=bot_repo.head(), message="v1")
    assert "mybot/v1" not in bot_repo.remote_tags()
    mirror = gitpython.Repo(tmp_path / "chatops" / "git" / "mybot.git")
    assert "mybot/v1" not in [t.name for t in mirror.tags]
    assert source.highest_release(bot) == 0


def test_move_env_tag_moves_the_remote_tag(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo
) -> None:
    first = bot_repo.head()
    source.fetch(bot)
    source.move_env_tag(bot, env="prod", commit=first, message="v1 live in prod")
    assert bot_repo.remote_tags()["mybot/prod"] == first

    second = bot_repo.commit("second version")
    source.fetch(bot)
    source.move_env_tag(bot, env="prod", commit=second, message="v2 live in prod")
    tag = remote_tag(bot_repo, "mybot/prod")
    assert tag.tag is not None
    assert tag.tag.message == "v2 live in prod"
    assert git("rev-parse", "mybot/prod^{commit}", cwd=bot_repo.remote) == second
    assert git("log", "-1", "--format=%s", "mybot/prod", cwd=bot_repo.remote) == "second version"


def test_env_tag_cannot_take_a_release_tag_name(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo
) -> None:
    source.fetch(bot)
    with pytest.raises(SourceControlError, match="mybot/v1"):
        source.move_env_tag(bot, env="v1", commit=bot_repo.head(), message="no")
    assert "mybot/v1" not in bot_repo.remote_tags()


def test_highest_release(source: GitSourceControl, bot: Bot, bot_repo: BotRepo) -> None:
    source.fetch(bot)
    assert source.highest_release(bot) == 0
    commit = bot_repo.head()
    for name in ("mybot/v2", "mybot/v10", "mybot/v9", "mybot/vx", "mybot/prod", "otherbot/v99"):
        git("tag", name, commit, cwd=bot_repo.work)
    git("push", "-q", "origin", "--tags", cwd=bot_repo.work)
    source.fetch(bot)
    assert source.highest_release(bot) == 10


# ── archive and log ──────────────────────────────────────────────────────


def test_archive_is_the_commit_tree_not_the_work_tree(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo, tmp_path: Path
) -> None:
    commit = bot_repo.commit("with a note", files={"notes/readme.txt": "committed\n"})
    (bot_repo.work / "notes" / "readme.txt").write_text("dirty\n")
    (bot_repo.work / "untracked.txt").write_text("not committed\n")
    source.fetch(bot)
    dest = tmp_path / "context.tar"
    source.archive(bot, commit, ".", dest)

    with tarfile.open(dest) as tar:
        files = {m.name for m in tar.getmembers() if m.isfile()}
        readme = tar.extractfile("notes/readme.txt")
        assert readme is not None
        assert readme.read() == b"committed\n"
    assert files == set(git("ls-tree", "-r", "--name-only", commit, cwd=bot_repo.work).split())
    assert "untracked.txt" not in files


def test_archive_of_a_subdir(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo, tmp_path: Path
) -> None:
    source.fetch(bot)
    dest = tmp_path / "www.tar"
    source.archive(bot, bot_repo.head(), "www/", dest)
    with tarfile.open(dest) as tar:
        assert {m.name for m in tar.getmembers() if m.isfile()} == {"index.html", "healthz"}


@pytest.mark.parametrize("subdir", ["no-such-dir", "Dockerfile", "../outside"])
def test_archive_of_a_missing_subdir_names_it(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo, tmp_path: Path, subdir: str
) -> None:
    source.fetch(bot)
    with pytest.raises(SourceControlError, match=subdir):
        source.archive(bot, bot_repo.head(), subdir, tmp_path / "x.tar")


def test_archive_of_an_unknown_commit(source: GitSourceControl, bot: Bot, tmp_path: Path) -> None:
    source.fetch(bot)
    with pytest.raises(SourceControlError, match="not a commit of mybot"):
        source.archive(bot, "0" * 40, ".", tmp_path / "x.tar")


def test_log_lists_newest_first_with_the_total(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo
) -> None:
    base = bot_repo.head()
    shas = [bot_repo.commit(f"change {n}") for n in range(1, 4)]
    source.fetch(bot)

    commits, total = source.log(bot, since=base, until=shas[-1], limit=2)
    assert [c.sha for c in commits] == [shas[2], shas[1]]
    assert [c.subject for c in commits] == ["change 3", "change 2"]
    assert commits[0].author == "Ada Dev <ada@example.com>"
    assert total == 3

    commits, total = source.log(bot, since=None, until=shas[-1], limit=10)
    assert [c.sha for c in commits] == [*reversed(shas), base]
    assert total == 4

    assert source.log(bot, since=shas[-1], until=base, limit=10) == ([], 0)


def test_log_keeps_subjects_with_unusual_line_separators(
    source: GitSourceControl, bot: Bot, bot_repo: BotRepo
) -> None:
    base = bot_repo.head()
    head = bot_repo.commit("fix\u2028the\x1cthing")
    source.fetch(bot)
    commits, total = source.log(bot, since=base, until=head, limit=10)
    assert [c.subject for c in commits] == ["fix\u2028the\x1cthing"]
    assert total == 1


def test_log_of_an_unknown_commit(source: GitSourceControl, bot: Bot) -> None:
    source.fetch(bot)
    with pytest.raises(SourceControlError):
        source.log(bot, since=None, until="0" * 40, limit=10)


# ── compare pages ────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("repo", "url"),
    [
        ("https://github.com/acme/mybot.git", "https://github.com/acme/mybot/compare/a1...b2"),
        ("https://github.com/acme/mybot", "https://github.com/acme/mybot/compare/a1...b2"),
        (
            "https://x:tok@github.com/acme/mybot.git",
            "https://github.com/acme/mybot/compare/a1...b2",
        ),
        ("git@github.com:acme/mybot.git", "https://github.com/acme/mybot/compare/a1...b2"),
        ("ssh://git@github.com/acme/mybot.git", "https://github.com/acme/mybot/compare/a1...b2"),
        ("https://gitlab.com/acme/mybot.git", "https://gitlab.com/acme/mybot/-/compare/a1...b2"),
        (
            "git@gitlab.com:acme/team/mybot.git",
            "https://gitlab.com/acme/team/mybot/-/compare/a1...b2",
        ),
        ("https://git.example.com/acme/mybot.git", None),
        ("git@git.example.com:acme/mybot.git", None),
        ("https://github.com/acme", None),
        ("/srv/git/mybot.git", None),
        ("file:///srv/git/github.com/acme/mybot.git", None),
    ],
)
def test_compare_url(source: GitSourceControl, repo: str, url: str | None) -> None:
    assert source.compare_url(Bot(name="mybot", repo=repo), base="a1", head="b2") == url
