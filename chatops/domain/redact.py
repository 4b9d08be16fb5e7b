"""Keeping secret values out of everything people and logs see.

A secret leaks in more shapes than its own text: a program logs it JSON-escaped,
URL-encoded in a query string, base64-encoded inside an `Authorization: Basic`
header (`user:secret`), hex-dumped, or one line at a time when it spans several.
A `Redactor` masks every such form of every value it knows.

Base64 inside a longer string: the characters that encode the secret depend on
where its first byte falls in a 3-byte group. For each of the three alignments
the characters that depend on the secret's bytes alone are fixed, whatever comes
before or after it; masking those three fragments (in both base64 alphabets)
breaks every base64 text that contains the secret — `user:secret`,
`secret:password`, a JSON document with it, anything.

Values too short to mask without masking ordinary words are refused where
secrets are read (`check_maskable`), rather than shown.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import quote, quote_plus

from chatops.errors import ConfigError

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "Redactor",
    "check_build_args",
    "check_maskable",
    "redact_url",
]

MASK = "••••••"
MIN_SECRET_LENGTH = 8  # shorter values would mask ordinary words, or be guessed
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")
_MAX_PASSES = 8


def redact_url(text: str) -> str:
    """Drop `user:password@` from URLs in `text`."""
    return _URL_USERINFO.sub(rf"\g<scheme>{MASK}@", text)


def check_maskable(secrets: Mapping[str, str]) -> None:
    """Every secret value must be long enough to be masked safely.

    Raises:
        ConfigError: a value (ignoring surrounding blanks) is shorter than
            MIN_SECRET_LENGTH characters; the message names the secret, never its value.
    """
    short = sorted(n for n, value in secrets.items() if len(value.strip()) < MIN_SECRET_LENGTH)
    if short:
        which = f"secret {short[0]} is" if len(short) == 1 else f"secrets {', '.join(short)} are"
        raise ConfigError(
            f"{which} shorter than {MIN_SECRET_LENGTH} characters: too short to be masked "
            "in logs and messages",
            hint="use a longer value; a setting that is not secret belongs in `env:`, "
            "not in `env_file` or `secrets:`",
        )


def check_build_args(build_args: Mapping[str, str], secrets: Mapping[str, str]) -> None:
    """Build arguments may not carry secrets: the engine records them in the image's history,
    which anyone who can pull the image reads.

    The rule: no build argument is named like a secret variable, and none contains a
    secret's value.

    Raises:
        ConfigError: naming the build argument and the secret, never a value.
    """
    for arg, value in sorted(build_args.items()):
        if arg in secrets:
            found = arg
        else:
            found = next(
                (
                    name
                    for name, secret in sorted(secrets.items())
                    if len(secret.strip()) >= MIN_SECRET_LENGTH and secret.strip() in value
                ),
                "",
            )
        if found:
            raise ConfigError(
                f"build argument {arg} carries the secret {found}: build arguments are recorded "
                "in the image's history, where anyone who can pull the image reads them",
                hint=f"remove {arg} from `build_args`; the running container gets {found} "
                "from `env_file` or `secrets:`",
            )


class Redactor:
    """Replaces every known secret value, in every encoded form, and URL credentials with a mask.

    Values (and lines of multi-line values) shorter than MIN_SECRET_LENGTH are not
    masked: `check_maskable` keeps them out of deployments.
    """

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = {form for value in secrets for piece in _pieces(value) for form in _forms(piece)}
        # longest first, so that a longer form is masked whole rather than around a shorter one
        ordered = sorted((f for f in forms if len(f) >= MIN_SECRET_LENGTH), key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def for_secrets(cls, secrets: Mapping[str, str]) -> Redactor:
        """A redactor for a bot's resolved secrets (name → value).

        Raises:
            ConfigError: a value is too short to be masked (see `check_maskable`).
        """
        check_maskable(secrets)
        return cls(secrets.values())

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            # masking may join text around a mask into a form again (a secret containing
            # the mask's own characters); every pass shortens the text, so this ends
            for _ in range(_MAX_PASSES):
                masked = self._pattern.sub(MASK, text)
                if masked == text:
                    break
                text = masked
        return redact_url(text)


def _pieces(value: str) -> Iterator[str]:
    """The value, without surrounding blanks, and each line of a multi-line value."""
    yield value
    yield value.strip()
    # lines as a program splits them (`\n`, `\r\n`), and as Python does (also `\f`, `\x1c`…)
    for line in {line.rstrip("\r") for line in value.split("\n")} | set(value.splitlines()):
        yield line
        yield line.strip()


def _forms(piece: str) -> set[str]:
    """Every text in which `piece` is commonly found in logs and messages."""
    texts = {piece, json.dumps(piece)[1:-1], json.dumps(piece, ensure_ascii=False)[1:-1]}
    forms = set(texts)
    for encoded in (quote(piece, safe=""), quote(piece), quote_plus(piece)):
        forms.add(encoded)
        forms.add(_PERCENT_HEX.sub(lambda m: m.group().lower(), encoded))
    data = piece.encode("utf-8")
    forms.add(data.hex())
    forms.add(data.hex().upper())
    for text in texts:  # base64 of the value, or of a JSON document holding it
        for offset in range(3):
            fragment = _base64_fragment(text.encode("utf-8"), offset)
            forms.add(fragment)
            forms.add(fragment.translate(_URLSAFE))
    return forms


_URLSAFE = str.maketrans("+/", "-_")


def _base64_fragment(data: bytes, offset: int) -> str:
    """The base64 characters that encode `data` alone when it starts `offset` bytes into a group.

    Characters shared with the bytes before (the first 2 at offset 1, 3 at offset 2)
    or after (the last, when `data` does not end a group) are left out.
    """
    encoded = base64.b64encode(b"\0" * offset + data).decode("ascii").rstrip("=")
    start = (0, 2, 3)[offset]
    end = len(encoded) - (1 if (offset + len(data)) % 3 else 0)
    return encoded[start:end]
