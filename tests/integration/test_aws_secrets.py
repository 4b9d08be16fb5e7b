"""The aws_secretsmanager provider against moto's server on 127.0.0.1, reached as boto3 reaches AWS.

boto3 is pointed at the server with AWS_ENDPOINT_URL, as an operator would point
it at a VPC endpoint. Access denied is real IAM: moto enforces the policy of a
user once authentication is switched on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from chatops.adapters.local_services import free_port
from chatops.adapters.secrets import ProviderSecrets
from chatops.domain.catalog import Bot, BotTarget, SecretRef
from chatops.errors import ConfigError

REGION = "eu-west-1"
VALUE = "pl41n-s3cret-value"
DB_PASSWORD = "db-pa55word-value"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh moto with two secrets; boto3 configured only through the environment."""
    httpx.post(f"{moto_url}/moto-api/reset", timeout=10).raise_for_status()
    for name, value in {
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",  # never ask an instance metadata service
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = boto3.session.Session().client("secretsmanager", region_name=REGION)
    client.create_secret(Name="mybot/plain", SecretString=VALUE)
    client.create_secret(
        Name="mybot/db", SecretString=json.dumps({"password": DB_PASSWORD, "port": 5432})
    )
    try:
        yield client
    finally:  # authentication off again, whatever the test did
        httpx.post(f"{moto_url}/moto-api/reset-auth", content=b"inf", timeout=10)


def _resolve(**options: str) -> dict[str, str]:
    ref = SecretRef(
        name="TOKEN", provider="aws_secretsmanager", options=tuple(sorted(options.items()))
    )
    target = BotTarget(env="prod", secrets=(ref,))
    bot = Bot(name="mybot", repo="/r", targets={"prod": target})
    return ProviderSecrets(lambda _: None).resolve(bot, target)


def _refusal(**options: str) -> ConfigError:
    with pytest.raises(ConfigError) as refused:
        _resolve(**options)
    assert VALUE not in str(refused.value) and DB_PASSWORD not in str(refused.value)
    return refused.value


def test_a_plain_string_secret(aws: Any) -> None:
    assert _resolve(secret_id="mybot/plain") == {"TOKEN": VALUE}


def test_a_key_of_a_json_secret_and_a_region_of_its_own(aws: Any) -> None:
    assert _resolve(secret_id="mybot/db", key="password", region=REGION) == {"TOKEN": DB_PASSWORD}
    assert _resolve(secret_id="mybot/db", key="port") == {"TOKEN": "5432"}


def test_a_missing_key_or_a_secret_that_is_no_json_is_named_never_shown(aws: Any) -> None:
    missing = _refusal(secret_id="mybot/db", key="user")
    assert missing.message == (
        "secret TOKEN of mybot in prod: the AWS secret 'mybot/db' is not a JSON object "
        "with the key 'user'"
    )
    assert (
        "is not a JSON object with the key 'password'"
        in _refusal(secret_id="mybot/plain", key="password").message
    )


def test_a_missing_secret_is_named(aws: Any) -> None:
    refused = _refusal(secret_id="mybot/nope")
    assert refused.message == (
        "secret TOKEN of mybot in prod: AWS Secrets Manager has no secret 'mybot/nope'"
    )
    assert "`secret_id`" in (refused.hint or "") and "`region`" in (refused.hint or "")
    # the same name in another region is another secret
    assert (
        "has no secret 'mybot/plain'"
        in _refusal(secret_id="mybot/plain", region="us-east-2").message
    )


def test_access_denied_by_iam_and_unknown_credentials_are_named(
    aws: Any, moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = boto3.session.Session().client("iam", region_name=REGION)
    iam.create_user(UserName="chatops")
    may = {"Effect": "Allow", "Action": "secretsmanager:ListSecrets", "Resource": "*"}
    iam.put_user_policy(
        UserName="chatops",
        PolicyName="list-only",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [may]}),
    )
    key = iam.create_access_key(UserName="chatops")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    httpx.post(f"{moto_url}/moto-api/reset-auth", content=b"0", timeout=10).raise_for_status()
    listed = boto3.session.Session().client("secretsmanager").list_secrets()
    assert len(listed["SecretList"]) == 2, "the user's own policy is in force"

    denied = _refusal(secret_id="mybot/db", key="password")
    assert denied.message == (
        "secret TOKEN of mybot in prod: AWS Secrets Manager denied chatops access to 'mybot/db'"
    )
    assert "secretsmanager:GetSecretValue" in (denied.hint or "")

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOBODYKNOWS00000")
    stranger = _refusal(secret_id="mybot/plain")
    assert "did not accept chatops' AWS credentials to read 'mybot/plain'" in stranger.message
    assert "AWS_ACCESS_KEY_ID" in (stranger.hint or "")


def test_no_credentials_and_an_unreachable_endpoint_are_explained(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert (
        "has no AWS credentials to read 'mybot/plain'" in _refusal(secret_id="mybot/plain").message
    )

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    unreachable = _refusal(secret_id="mybot/plain")
    assert "could not be asked for 'mybot/plain': EndpointConnectionError" in unreachable.message
