"""Name, ref and version validation, with git itself as the oracle for refs."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chatops.domain.names import env_tag, parse_version, release_tag, validate_name, validate_ref
from chatops.errors import BadInput

# Characters that matter to git's ref rules, so that random refs hit the edge cases often.
_REFISH = st.text(alphabet="ab/.-@{}~^:?*[\\ \t\x7fé", max_size=12) | st.builds(
    "".join, st.lists(st.sampled_from(["a", "/", ".", ".lock", "..", "@", "@{", "-", "x.lock/"]))
)
# text a chat can carry: any Unicode but NUL and lone surrogates (which UTF-8 cannot encode)
_ANY_TEXT = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40
)


def git_accepts(ref: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--allow-onelevel", ref], capture_output=True, check=False
    )
    return result.returncode == 0


def accepts(ref: str) -> bool:
    try:
        validate_ref(ref)
    except BadInput:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(_REFISH | _ANY_TEXT)
@example("main")
@example("feature/x")
@example("@")
@example("a@{1}")
@example("a.lock")
@example("a/.b")
@example("a.")
@example("a//b")
@example("/a")
@example("a/")
@example("HEAD")
@example("ünïcode")
def test_validate_ref_accepts_what_git_accepts_except_a_leading_dash(ref: str) -> None:
    if ref.startswith("-"):
        # git check-ref-format would read it as an option; we refuse all of them
        assert not accepts(ref)
    else:
        assert accepts(ref) == git_accepts(ref), ref


@pytest.mark.parametrize(
    "ref", ["-x", "--upload-pack=touch pwned", "a..b", "../x", "HEAD@{1}", "x.lock", "", "a\x00b"]
)
def test_validate_ref_refuses_dangerous_refs(ref: str) -> None:
    with pytest.raises(BadInput, match="not a valid git ref"):
        validate_ref(ref)


def test_validate_ref_refuses_very_long_refs() -> None:
    assert validate_ref("a" * 200) == "a" * 200
    with pytest.raises(BadInput, match="longer than"):
        validate_ref("a" * 201)


@pytest.mark.parametrize("name", ["mybot", "my-bot", "my_bot2", "a", "0", "a" * 63])
def test_validate_name_accepts(name: str) -> None:
    assert validate_name("bot", name) == name


@pytest.mark.parametrize(
    "name", ["", "MyBot", "my bot", "-bot", "bot-", "my--bot", "my.bot", "a/b", "é", "a" * 64]
)
def test_validate_name_refuses(name: str) -> None:
    with pytest.raises(BadInput, match=r"bot name .* is not valid") as info:
        validate_name("bot", name)
    assert info.value.hint is not None


@pytest.mark.parametrize(("text", "version"), [("v3", 3), ("3", 3), (" v12 ", 12), ("v1", 1)])
def test_parse_version(text: str, version: int) -> None:
    assert parse_version(text) == version


@pytest.mark.parametrize(
    "text", ["", "v", "v0", "0", "v01", "3.1", "V3", "vv3", "-1", "v1234567890"]
)
def test_parse_version_refuses(text: str) -> None:
    with pytest.raises(BadInput, match="not a release version"):
        parse_version(text)


def test_tag_names() -> None:
    assert release_tag("mybot", 3) == "mybot/v3"
    assert env_tag("mybot", "prod") == "mybot/prod"
