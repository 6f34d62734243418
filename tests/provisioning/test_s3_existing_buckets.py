"""The storage step on buckets it did not create: merge ours in, keep everything else.

Bucket policies, lifecycle configurations and default encryption are each one document
per bucket that a PUT replaces whole, so the step merges by statement ``Sid`` and by rule
``ID`` and never touches an existing default encryption. S3's answers come from moto plus
:class:`tests.fixtures.aws_answers.S3Answers` (where moto differs from S3).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from iot_lake.errors import ConfigError
from iot_lake.provisioning import run
from iot_lake.provisioning.report import has_mutations

LAKE = "acme-iot-lake"  # curated/, photos/, athena-results/ (tests/provisioning/conftest.py)
RAW = "acme-iot-raw"
CUSTOMER_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0000aaaa-1111-2222-3333-444455556666"
ANALYTICS_READ = {
    "Sid": "AnalyticsAccountReadsCurated",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{LAKE}/curated/*",
}
NO_SID = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:DeleteBucket",
    "Resource": f"arn:aws:s3:::{LAKE}",
}
ARCHIVE_PHOTOS = {
    "ID": "archive-old-photos",
    "Filter": {"Prefix": "photos/"},
    "Status": "Enabled",
    "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}],
}
UNNAMED_RULE = {  # S3 gives it an ID of its own (S3Answers)
    "Filter": {"Prefix": "exports/"},
    "Status": "Enabled",
    "Expiration": {"Days": 30},
}


def storage(account: Any, **kwargs: Any):
    return run(("storage",), account.settings, session=account.session, **kwargs)


def lake_bucket(changes):
    [change] = [c for c in changes if c.name.startswith(f"{LAKE} ")]
    return change


def make_customer_bucket(s3: Any) -> None:
    """The lake bucket as a customer already runs it: own policy, rules, KMS key."""
    s3.create_bucket(Bucket=LAKE, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_policy(
        Bucket=LAKE,
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [ANALYTICS_READ, NO_SID]}),
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=LAKE, LifecycleConfiguration={"Rules": [ARCHIVE_PHOTOS, UNNAMED_RULE]}
    )
    s3.put_bucket_encryption(
        Bucket=LAKE,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": CUSTOMER_KEY,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )


def rules_by_id(s3: Any, bucket: str) -> dict[str, dict[str, Any]]:
    return {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}


def test_s3_answers_a_bucket_without_configuration_as_documented(aws_account):
    """What the storage step reads on a bare bucket, as S3's API reference documents it."""
    s3 = aws_account.client("s3")
    s3.create_bucket(Bucket=LAKE, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for read, code in [
        (s3.get_bucket_policy, "NoSuchBucketPolicy"),
        (s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration"),
    ]:
        with pytest.raises(ClientError) as caught:
            read(Bucket=LAKE)
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # Every bucket has SSE-S3 default encryption (since 2023): never "not found".
    encryption = s3.get_bucket_encryption(Bucket=LAKE)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    s3.put_bucket_lifecycle_configuration(
        Bucket=LAKE, LifecycleConfiguration={"Rules": [UNNAMED_RULE]}
    )
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=LAKE)["Rules"]
    assert rule["ID"]  # S3 names a rule that came without an ID


def test_existing_bucket_keeps_foreign_statements_rules_and_encryption(aws_account):
    s3 = aws_account.client("s3")
    make_customer_bucket(s3)
    before_rules = rules_by_id(s3, LAKE)

    changes = storage(aws_account)

    change = lake_bucket(changes)
    assert change.action == "updated"
    assert "lifecycle rules" in change.details and "bucket policy" in change.details
    assert "default encryption" not in change.details
    policy = json.loads(s3.get_bucket_policy(Bucket=LAKE)["Policy"])
    statements = policy["Statement"]
    assert ANALYTICS_READ in statements and NO_SID in statements
    [tls] = [s for s in statements if s.get("Sid") == "DenyInsecureTransport"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert len(statements) == 3
    rules = rules_by_id(s3, LAKE)
    for ident, rule in before_rules.items():  # both foreign rules, byte for byte
        assert rules[ident] == rule
    assert rules["expire-athena-query-results"]["Filter"] == {"Prefix": "athena-results/"}
    assert "abort-incomplete-multipart-uploads" in rules
    assert len(rules) == 4
    encryption = s3.get_bucket_encryption(Bucket=LAKE)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": CUSTOMER_KEY,
    }

    aws_account.recorder.clear()
    again = storage(aws_account)
    assert not has_mutations(again), again
    assert aws_account.recorder.mutating == []


def test_a_changed_rule_or_statement_of_ours_is_put_back_by_id_and_sid_only(aws_account):
    s3 = aws_account.client("s3")
    storage(aws_account)
    rules = rules_by_id(s3, LAKE)
    rules["expire-athena-query-results"]["Expiration"] = {"Days": 365}
    s3.put_bucket_lifecycle_configuration(
        Bucket=LAKE, LifecycleConfiguration={"Rules": [*rules.values(), ARCHIVE_PHOTOS]}
    )
    policy = json.loads(s3.get_bucket_policy(Bucket=LAKE)["Policy"])
    policy["Statement"][0]["Condition"] = {"Bool": {"aws:SecureTransport": "true"}}
    policy["Statement"].append(ANALYTICS_READ)
    s3.put_bucket_policy(Bucket=LAKE, Policy=json.dumps(policy))

    change = lake_bucket(storage(aws_account))

    assert change.action == "updated"
    assert set(change.details) == {"lifecycle rules", "bucket policy"}
    rules = rules_by_id(s3, LAKE)
    assert rules["expire-athena-query-results"]["Expiration"] == {"Days": 7}
    assert rules["archive-old-photos"] == ARCHIVE_PHOTOS
    statements = json.loads(s3.get_bucket_policy(Bucket=LAKE)["Policy"])["Statement"]
    assert ANALYTICS_READ in statements and len(statements) == 2
    [tls] = [s for s in statements if s.get("Sid") == "DenyInsecureTransport"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert not has_mutations(storage(aws_account))


def test_existing_default_encryption_is_kept_even_when_the_settings_name_a_key(
    aws_account, monkeypatch
):
    """A bucket on S3's default SSE-S3 is not switched to the lake's key: it is reported."""
    s3 = aws_account.client("s3")
    s3.create_bucket(Bucket=RAW, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    monkeypatch.setenv("IOT_LAKE_KMS_KEY_ARN", CUSTOMER_KEY)

    changes = storage(aws_account)

    [raw] = [c for c in changes if c.name.startswith(f"{RAW} ")]
    assert "default encryption" not in raw.details
    assert any("kept as found" in d and "AES256" in d for d in raw.details), raw.details
    rule = s3.get_bucket_encryption(Bucket=RAW)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    # The bucket the step creates does get the key.
    created = s3.get_bucket_encryption(Bucket=LAKE)["ServerSideEncryptionConfiguration"]
    assert created["Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == (
        CUSTOMER_KEY
    )
    assert not has_mutations(storage(aws_account))


@pytest.mark.parametrize(
    ("query_results", "covered"),
    [
        ("s3://acme-iot-lake/", "curated"),  # the bucket root: every area of the bucket
        ("s3://acme-iot-lake/curated/athena/", "curated"),  # inside the curated area
        ("s3://acme-iot-lake/photos/", "photos"),  # the photos area itself
        ("s3://acme-iot-raw/", "raw"),  # the raw bucket's root
    ],
)
def test_an_expiry_rule_that_would_cover_lake_data_is_refused(
    aws_account, monkeypatch, query_results, covered
):
    from iot_lake import config

    monkeypatch.setenv("IOT_LAKE_QUERY_RESULTS_URI", query_results)
    config.settings.cache_clear()
    aws_account.settings = config.settings()

    with pytest.raises(ConfigError, match="IOT_LAKE_QUERY_RESULTS_URI") as refused:
        storage(aws_account)

    assert covered in str(refused.value)
    assert aws_account.recorder.mutating == []  # refused before anything was created
    with pytest.raises(ConfigError):
        storage(aws_account, dry_run=True)  # the plan refuses too


def test_query_results_at_the_root_of_a_bucket_of_their_own_expire_there(aws_account, monkeypatch):
    from iot_lake import config

    monkeypatch.setenv("IOT_LAKE_QUERY_RESULTS_URI", "s3://acme-iot-athena/")
    config.settings.cache_clear()
    aws_account.settings = config.settings()

    storage(aws_account)

    rules = rules_by_id(aws_account.client("s3"), "acme-iot-athena")
    assert rules["expire-athena-query-results"]["Filter"] == {"Prefix": ""}
    assert "expire-athena-query-results" not in rules_by_id(aws_account.client("s3"), LAKE)
