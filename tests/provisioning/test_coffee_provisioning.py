"""The coffee step on aws against moto: Lambda, invoke permission, bucket notification, the
machines' role alias and IoT policy; idempotent; and what the documents allow."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iot_lake.provisioning import run
from iot_lake.provisioning.coffee import (
    DEVICE_IOT_POLICY,
    HANDLER,
    RUNTIME,
    STATEMENT_ID,
    ensure_function,
)
from iot_lake.provisioning.deployment import Deployment
from iot_lake.provisioning.documents import load, policy_document
from iot_lake.provisioning.iam_check import is_allowed
from iot_lake.provisioning.lambda_package import code_sha256, lambda_zip
from tests.provisioning.conftest import AURORA_CLUSTER_ARN, AURORA_SECRET_ARN

ACCOUNT = "123456789012"
FUNCTION = "iot-lake-coffee-photo"
ALIAS = "iot-lake-coffee-machine"
OTHER_NOTIFICATION = {
    "Id": "curated-objects-to-a-queue",
    "QueueArn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:curated-events",
    "Events": ["s3:ObjectCreated:*"],
}


def provision(account: Any, **kwargs: Any):
    return run(["identities", "permissions", "storage", "coffee"], account.settings,
               session=account.session, **kwargs)  # fmt: skip


def coffee_changes(changes):
    kinds = ("lambda function", "lambda permission", "s3 notification", "iot role alias")
    return {
        c.kind: c.action for c in changes if c.kind in kinds or c.name.endswith("coffee-machine")
    }


def test_first_run_deploys_the_handler_and_wires_the_photos_bucket_to_it(aws_account):
    aws_account.client("sqs").create_queue(QueueName="curated-events")
    provision(aws_account, dry_run=False)  # the bucket exists after storage
    s3 = aws_account.client("s3")
    # Another notification on the shared bucket must survive (areas may share a bucket).
    current = s3.get_bucket_notification_configuration(Bucket="acme-iot-lake")
    current.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(
        Bucket="acme-iot-lake",
        NotificationConfiguration={**current, "QueueConfigurations": [OTHER_NOTIFICATION]},
    )

    function = aws_account.client("lambda").get_function_configuration(FunctionName=FUNCTION)
    assert (function["Runtime"], function["Handler"]) == (RUNTIME, HANDLER)
    assert function["Role"] == f"arn:aws:iam::{ACCOUNT}:role/iot-lake-coffee-photo-lambda"
    assert function["CodeSha256"] == code_sha256(lambda_zip())
    assert function["Environment"]["Variables"] == {
        "IOT_LAKE_BACKEND": "aws",
        "IOT_LAKE_REGION": "eu-west-1",
        "IOT_LAKE_PHOTOS_URI": "s3://acme-iot-lake/photos/",
        "IOT_LAKE_AURORA_CLUSTER_ARN": AURORA_CLUSTER_ARN,
        "IOT_LAKE_AURORA_SECRET_ARN": AURORA_SECRET_ARN,
        "IOT_LAKE_AURORA_DATABASE": "iot_lake",
    }
    policy = json.loads(aws_account.client("lambda").get_policy(FunctionName=FUNCTION)["Policy"])
    [statement] = policy["Statement"]
    assert statement["Sid"] == STATEMENT_ID
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == "arn:aws:s3:::acme-iot-lake"
    assert statement["Condition"]["StringEquals"]["AWS:SourceAccount"] == ACCOUNT

    notification = s3.get_bucket_notification_configuration(Bucket="acme-iot-lake")
    [wired] = notification["LambdaFunctionConfigurations"]
    assert wired["LambdaFunctionArn"].endswith(f":function:{FUNCTION}")
    assert wired["Events"] == ["s3:ObjectCreated:*"]
    [rule] = wired["Filter"]["Key"]["FilterRules"]
    assert (rule["Name"].lower(), rule["Value"]) == ("prefix", "photos/")

    alias = aws_account.client("iot").describe_role_alias(roleAlias=ALIAS)["roleAliasDescription"]
    assert alias["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/iot-lake-coffee-machine-device"
    assert alias["credentialDurationSeconds"] == 3600
    iot_policy = aws_account.client("iot").get_policy(policyName=ALIAS)["policyDocument"]
    assert json.loads(iot_policy)["Statement"][0]["Resource"] == (
        f"arn:aws:iot:eu-west-1:{ACCOUNT}:rolealias/{ALIAS}"
    )

    # A second run: everything unchanged, no mutating call; the queue notification kept.
    aws_account.recorder.clear()
    again = provision(aws_account)
    assert set(coffee_changes(again).values()) == {"unchanged"}
    assert aws_account.recorder.mutating == []
    kept = s3.get_bucket_notification_configuration(Bucket="acme-iot-lake")
    assert [q["Id"] for q in kept["QueueConfigurations"]] == [OTHER_NOTIFICATION["Id"]]


def test_changed_code_or_configuration_is_updated_and_only_that(aws_account):
    provision(aws_account)
    lam = aws_account.client("lambda")
    lam.update_function_configuration(FunctionName=FUNCTION, Timeout=3)
    lam.remove_permission(FunctionName=FUNCTION, StatementId=STATEMENT_ID)
    aws_account.client("iot").update_role_alias(roleAlias=ALIAS, credentialDurationSeconds=900)
    aws_account.recorder.clear()

    changes = coffee_changes(provision(aws_account))

    assert changes["lambda function"] == "updated"
    assert changes["lambda permission"] == "created"
    assert changes["iot role alias"] == "updated"
    assert changes["s3 notification"] == "unchanged"
    assert lam.get_function_configuration(FunctionName=FUNCTION)["Timeout"] == 30
    assert "lambda:UpdateFunctionCode" not in aws_account.recorder.mutating

    from iot_lake.provisioning import aws

    ctx = aws.context(aws_account.settings, aws_account.session)
    newer = ensure_function(ctx, code=lambda_zip() + b"")  # same bytes: nothing to do
    assert newer.action == "unchanged"
    import io
    import zipfile

    buffer = io.BytesIO(lambda_zip())
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("extra.txt", "a new release")
    code = buffer.getvalue()
    changed = ensure_function(ctx, code=code)
    assert (changed.action, changed.details) == ("updated", ("code",))
    assert lam.get_function_configuration(FunctionName=FUNCTION)["CodeSha256"] == code_sha256(code)


def test_without_the_aurora_settings_the_lambda_is_skipped_and_says_what_to_set(
    aws_account, monkeypatch
):
    monkeypatch.delenv("IOT_LAKE_AURORA_CLUSTER_ARN")
    changes = provision(aws_account)
    skipped = [c for c in changes if c.action == "skipped"]
    assert {c.kind for c in skipped} == {"lambda function", "lambda permission", "s3 notification"}
    assert all("IOT_LAKE_AURORA_CLUSTER_ARN" in c.details[0] for c in skipped)
    assert coffee_changes(changes)["iot role alias"] == "created"  # the machines still upload


def test_dry_run_plans_the_coffee_path_and_creates_nothing(aws_account):
    changes = coffee_changes(provision(aws_account, dry_run=True))
    assert set(changes.values()) == {"created"}
    assert aws_account.client("lambda").list_functions()["Functions"] == []


@pytest.fixture
def deployment(aws_settings) -> Deployment:
    return Deployment.for_account(aws_settings, ACCOUNT)


def test_a_machine_may_put_photos_under_its_own_name_only(deployment):
    policy = policy_document("iam/coffee_machine_device_policy.json", deployment.values())
    # The credentials provider fills in the thing name of the calling certificate.
    mine = json.loads(json.dumps(policy).replace("${credentials-iot:ThingName}", "coffee-m-01"))
    photos = "arn:aws:s3:::acme-iot-lake/photos"
    assert is_allowed(mine, "s3:PutObject", f"{photos}/coffee-m-01/2026-11-20/081502-a.png")
    assert not is_allowed(mine, "s3:PutObject", f"{photos}/coffee-m-02/2026-11-20/081502-a.png")
    assert not is_allowed(mine, "s3:PutObject", "arn:aws:s3:::acme-iot-lake/curated/x")
    assert not is_allowed(mine, "s3:GetObject", f"{photos}/coffee-m-01/2026-11-20/081502-a.png")
    assert not is_allowed(mine, "s3:DeleteObject", f"{photos}/coffee-m-01/x.png")
    [statement] = policy["Statement"]  # no KMS key configured: the KMS grant is dropped
    assert statement["Action"] == "s3:PutObject"


def test_the_iot_policy_lets_a_certificate_buy_only_the_coffee_machine_role(deployment):
    document = load(DEVICE_IOT_POLICY, deployment.values())
    [statement] = document["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "iot:AssumeRoleWithCertificate")
    assert statement["Resource"] == f"arn:aws:iot:eu-west-1:{ACCOUNT}:rolealias/{ALIAS}"
    trust = policy_document("iam/trust/iot_credentials.json", deployment.values())
    [assume] = trust["Statement"]
    assert assume["Principal"] == {"Service": "credentials.iot.amazonaws.com"}
    assert assume["Condition"]["ArnEquals"]["aws:SourceArn"] == statement["Resource"]


def test_the_lambda_reads_photos_and_writes_one_cluster_and_nothing_else(deployment):
    policy = policy_document("iam/coffee_photo_lambda_policy.json", deployment.values())
    photo = "arn:aws:s3:::acme-iot-lake/photos/coffee-m-01/2026-11-20/081502-a.png"
    assert is_allowed(policy, "s3:GetObject", photo)
    assert not is_allowed(policy, "s3:PutObject", photo)
    assert not is_allowed(policy, "s3:GetObject", "arn:aws:s3:::acme-iot-lake/curated/x")
    assert is_allowed(policy, "rekognition:DetectFaces", "*")
    assert is_allowed(policy, "rds-data:ExecuteStatement", AURORA_CLUSTER_ARN)
    assert not is_allowed(policy, "rds-data:ExecuteStatement", AURORA_CLUSTER_ARN + "-other")
    assert is_allowed(policy, "secretsmanager:GetSecretValue", AURORA_SECRET_ARN)
    log_stream = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/{FUNCTION}:log-stream:x"
    assert is_allowed(policy, "logs:PutLogEvents", log_stream)


FAILED_QUEUE = "iot-lake-coffee-photo-failed"
FAILED_ALARM = "iot-lake-coffee-photo-failed-events"


def test_failed_photo_events_go_to_an_encrypted_queue_kept_14_days_with_an_alarm(
    aws_account, monkeypatch
):
    """Lambda discards an async event after two retries: the on-failure queue keeps it."""
    topic = f"arn:aws:sns:eu-west-1:{ACCOUNT}:iot-lake-alerts"
    monkeypatch.setenv("IOT_LAKE_ALERTS_TOPIC_ARN", topic)
    changes = {(c.kind, c.name): c.action for c in provision(aws_account)}
    sqs = aws_account.client("sqs")
    url = sqs.get_queue_url(QueueName=FAILED_QUEUE)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["MessageRetentionPeriod"] == "1209600"  # 14 days, SQS's maximum
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert "FifoQueue" not in attributes  # Lambda takes no FIFO queue as a destination
    queue_arn = attributes["QueueArn"]
    assert queue_arn == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{FAILED_QUEUE}"

    lam = aws_account.client("lambda")
    invoke_config = lam.get_function_event_invoke_config(FunctionName=FUNCTION)
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn
    assert invoke_config["MaximumRetryAttempts"] == 2
    assert invoke_config["MaximumEventAgeInSeconds"] == 6 * 3600

    [alarm] = aws_account.client("cloudwatch").describe_alarms(AlarmNames=[FAILED_ALARM])[
        "MetricAlarms"
    ]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": FAILED_QUEUE}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0.0)
    assert alarm["AlarmActions"] == [topic] and "replay_failed" in alarm["AlarmDescription"]
    assert changes[("sqs queue", FAILED_QUEUE)] == "created"
    assert changes[("cloudwatch alarm", FAILED_ALARM)] == "created"

    # Idempotent: a second run changes nothing; drift is repaired, and only that.
    aws_account.recorder.clear()
    again = provision(aws_account)
    kinds = ("sqs queue", "cloudwatch alarm", "lambda event invoke config")
    assert {c.action for c in again if c.kind in kinds} == {"unchanged"}
    assert aws_account.recorder.mutating == []
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "345600"})
    # moto appends a second PutFunctionEventInvokeConfig and keeps answering the first;
    # AWS overwrites ("If a configuration already exists for a function, version, or
    # alias, this operation overwrites it", API_PutFunctionEventInvokeConfig): delete first.
    lam.delete_function_event_invoke_config(FunctionName=FUNCTION)
    lam.put_function_event_invoke_config(FunctionName=FUNCTION, MaximumRetryAttempts=0)
    aws_account.recorder.clear()
    repaired = {c.kind: c.action for c in provision(aws_account)}
    assert repaired["sqs queue"] == "updated"
    assert repaired["lambda event invoke config"] == "updated"
    assert repaired["cloudwatch alarm"] == "unchanged"
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])[
        "Attributes"]["MessageRetentionPeriod"] == "1209600"  # fmt: skip
    [put] = [p for _, op, p in aws_account.recorder.calls if op == "PutFunctionEventInvokeConfig"]
    assert put == {"FunctionName": FUNCTION, **{k: invoke_config[k] for k in (
        "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")}}  # fmt: skip


def test_the_lambda_may_send_to_its_failure_queue_and_do_nothing_else_there(deployment):
    policy = policy_document("iam/coffee_photo_lambda_policy.json", deployment.values())
    queue = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{FAILED_QUEUE}"
    assert is_allowed(policy, "sqs:SendMessage", queue)
    assert not is_allowed(policy, "sqs:SendMessage", f"arn:aws:sqs:eu-west-1:{ACCOUNT}:other")
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:PurgeQueue"):
        assert not is_allowed(policy, action, queue), action
