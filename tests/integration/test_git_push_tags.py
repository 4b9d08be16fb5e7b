"""`push_tags: false`: release and environment tags stay in chatops' mirror, for remotes
chatops may not push to; they survive fetches, and a release tag still never moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatops.adapters.git import GitSourceControl
from chatops.domain.catalog import Bot
from chatops.errors import SourceControlError
from tests.conftest import BotRepo, git


def test_tags_stay_in_the_mirror_and_survive_fetches(tmp_path: Path, bot_repo: BotRepo) -> None:
    source = GitSourceControl(
        tmp_path / "chatops", author_name="Chat Ops", author_email="ops@example.com"
    )
    bot = Bot(name="mybot", repo=str(bot_repo.remote), push_tags=False)
    first = bot_repo.head()
    source.fetch(bot)

    source.tag_release(bot, version=1, commit=first, message="v1 by U0DEV")
    source.move_env_tag(bot, env="staging", commit=first, message="v1 live in staging")
    second = bot_repo.commit("second version")
    source.fetch(bot)

    assert git("tag", "--list", cwd=bot_repo.remote) == "", "nothing was pushed"
    assert source.highest_release(bot) == 1, "the tag survived the fetch (tags are not pruned)"
    assert source.resolve(bot, "mybot/v1").sha == first
    assert source.resolve(bot, "mybot/staging").sha == first
    assert source.resolve(bot, "main").sha == second
    source.tag_release(bot, version=1, commit=first, message="again")  # same commit: nothing
    with pytest.raises(SourceControlError, match="already exists on commit"):
        source.tag_release(bot, version=1, commit=second, message="moved?")
