"""Fixtures for provisioning tests: an AWS account in moto, with every API call recorded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fixtures.aws_answers import GlueClassifiers, S3Answers, ServerDefaults

READ_PREFIXES = ("Get", "Describe", "Head", "List")
AURORA_CLUSTER_ARN = "arn:aws:rds:eu-west-1:123456789012:cluster:coffee"
AURORA_SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:coffee-db-AbCdEf"


@dataclass
class CallRecorder:
    """Every API call a boto3 session makes: (IAM service prefix, operation, parameters)."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.service_model.endpoint_prefix, model.name, dict(params)))

    def clear(self) -> None:
        self.calls.clear()

    @property
    def operations(self) -> list[str]:
        return [f"{service}:{operation}" for service, operation, _ in self.calls]

    @property
    def mutating(self) -> list[str]:
        return [
            f"{service}:{operation}"
            for service, operation, _ in self.calls
            if not operation.startswith(READ_PREFIXES)
        ]


@dataclass
class AwsAccount:
    session: Any
    recorder: CallRecorder
    settings: Any

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.settings.region)


@pytest.fixture
def aws_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The aws backend with a raw bucket of its own and three areas sharing another."""
    from iot_lake import config

    monkeypatch.setenv("IOT_LAKE_BACKEND", "aws")
    monkeypatch.setenv("IOT_LAKE_REGION", "eu-west-1")
    monkeypatch.setenv("IOT_LAKE_RAW_URI", "s3://acme-iot-raw/")
    monkeypatch.setenv("IOT_LAKE_CURATED_URI", "s3://acme-iot-lake/curated/")
    monkeypatch.setenv("IOT_LAKE_PHOTOS_URI", "s3://acme-iot-lake/photos/")
    monkeypatch.setenv("IOT_LAKE_QUERY_RESULTS_URI", "s3://acme-iot-lake/athena-results/")
    monkeypatch.delenv("IOT_LAKE_KMS_KEY_ARN", raising=False)
    # The coffee photo Lambda writes through the RDS Data API (provisioning.coffee).
    monkeypatch.setenv("IOT_LAKE_AURORA_CLUSTER_ARN", AURORA_CLUSTER_ARN)
    monkeypatch.setenv("IOT_LAKE_AURORA_SECRET_ARN", AURORA_SECRET_ARN)
    config.settings.cache_clear()
    yield config.settings()
    config.settings.cache_clear()


@pytest.fixture
def aws_account(aws_settings: Any) -> Iterator[AwsAccount]:
    """An empty moto account; the session records every call made through it."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        session = boto3.session.Session(region_name=aws_settings.region)
        recorder = CallRecorder()
        session.events.register("before-parameter-build.*.*", recorder)
        GlueClassifiers().register(session)
        ServerDefaults().register(session.events)  # answers as real AWS gives them
        S3Answers().register(session.events)
        yield AwsAccount(session, recorder, aws_settings)
