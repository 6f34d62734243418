"""The aws backend against moto: one run builds everything, a second run changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from iot_lake.provisioning import STEPS, run, summary
from iot_lake.provisioning.report import Change, has_mutations

# The administrator's identities first (the boundary every role is created under);
# MySQL: test_relational.py.
AWS_STEPS = ["identities", *(step for step in STEPS if step != "relational")]
ACCOUNT = "123456789012"  # moto's default account


def provision(account: Any, **kwargs: Any) -> list[Change]:
    return run(AWS_STEPS, account.settings, session=account.session, **kwargs)


def by_kind(changes: list[Change]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for change in changes:
        out.setdefault(change.kind, []).append(change.name)
    return out


def test_first_run_creates_every_resource_with_the_expected_configuration(aws_account):
    changes = provision(aws_account)

    assert {c.action for c in changes} == {"created"}
    kinds = by_kind(changes)
    assert sorted(kinds) == sorted(
        [
            "athena workgroup",
            "cloudwatch alarm",
            "dynamodb table",
            "firehose stream",
            "glue classifier",
            "glue crawler",
            "glue database",
            "iam policy",
            "iam role",
            "iot policy",
            "iot role alias",
            "iot thing type",
            "iot topic rule",
            "log group",
            "lambda event invoke config",
            "lambda function",
            "lambda permission",
            "s3 bucket",
            "s3 notification",
            "sqs queue",
        ]
    )
    s3 = aws_account.client("s3")
    for bucket in ("acme-iot-raw", "acme-iot-lake"):
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block[key] for key in block) and len(block) == 4
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu-west-1"
    rules = {
        r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket="acme-iot-lake")["Rules"]
    }
    assert rules["expire-athena-query-results"]["Filter"] == {"Prefix": "athena-results/"}
    assert rules["expire-athena-query-results"]["Expiration"] == {"Days": 7}
    raw_rules = s3.get_bucket_lifecycle_configuration(Bucket="acme-iot-raw")["Rules"]
    assert [r["ID"] for r in raw_rules] == ["abort-incomplete-multipart-uploads"]

    glue = aws_account.client("glue")
    assert glue.get_database(Name="iot_lake_raw")["Database"]["LocationUri"] == (
        "s3://acme-iot-raw/"
    )
    assert glue.get_database(Name="iot_lake")["Database"]["LocationUri"] == (
        "s3://acme-iot-lake/curated/"
    )
    crawler = glue.get_crawler(Name="iot_lake_raw_weather")["Crawler"]
    assert crawler["DatabaseName"] == "iot_lake_raw"
    assert crawler["Role"].endswith(":role/iot-lake-glue-crawler")
    assert crawler["Targets"]["S3Targets"][0]["Path"] == "s3://acme-iot-raw/weather/"
    assert crawler["RecrawlPolicy"] == {"RecrawlBehavior": "CRAWL_EVERYTHING"}
    assert crawler["TablePrefix"] == "discovered_"  # discovery only: never the declared tables
    crawler_config = json.loads(crawler["Configuration"])
    assert crawler_config["CrawlerOutput"]["Partitions"] == {
        "AddOrUpdateBehavior": "InheritFromTable"
    }
    classifier = glue.get_classifier(Name=crawler["Classifiers"][0])["Classifier"]
    assert classifier["JsonClassifier"]["JsonPath"] == "$"

    workgroup = aws_account.client("athena").get_work_group(WorkGroup="iot_lake")["WorkGroup"]
    config = workgroup["Configuration"]
    assert config["ResultConfiguration"]["OutputLocation"] == ("s3://acme-iot-lake/athena-results/")
    assert config["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert config["EnforceWorkGroupConfiguration"] is True

    stream = aws_account.client("firehose").describe_delivery_stream(
        DeliveryStreamName="iot-lake-raw-weather"
    )["DeliveryStreamDescription"]
    destination = stream["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["BucketARN"] == "arn:aws:s3:::acme-iot-raw"
    assert destination["RoleARN"] == f"arn:aws:iam::{ACCOUNT}:role/iot-lake-firehose-delivery"
    assert destination["Prefix"] == (
        "weather/day=!{partitionKeyFromQuery:day}/arrived=!{timestamp:yyyy-MM-dd}/")
    assert destination["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["BufferingHints"] == {"SizeInMBs": 64, "IntervalInSeconds": 300}
    # Delivery errors are logged, into a group and stream that exist (the API makes neither).
    logging_options = destination["CloudWatchLoggingOptions"]
    assert logging_options == {
        "Enabled": True,
        "LogGroupName": "/aws/kinesisfirehose/iot-lake-raw-weather",
        "LogStreamName": "DestinationDelivery",
    }
    logs = aws_account.client("logs")
    [group] = logs.describe_log_groups(logGroupNamePrefix=logging_options["LogGroupName"])[
        "logGroups"
    ]
    assert group["retentionInDays"] == 30
    streams = logs.describe_log_streams(logGroupName=group["logGroupName"])["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["DestinationDelivery"]

    table = aws_account.client("dynamodb").describe_table(TableName="weather_cold_readings")
    assert sorted((k["AttributeName"], k["KeyType"]) for k in table["Table"]["KeySchema"]) == [
        ("time", "RANGE"),
        ("weather_station", "HASH"),
    ]
    assert table["Table"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"

    iot = aws_account.client("iot")
    rule = iot.get_topic_rule(ruleName="iot_lake_weather_to_firehose")["rule"]
    assert rule["sql"] == "SELECT * FROM 'sensor/weather'"
    action = rule["actions"][0]["firehose"]
    assert action["deliveryStreamName"] == "iot-lake-raw-weather"
    assert action["separator"] == "\n"
    assert action["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/iot-lake-iot-rules"
    cold = iot.get_topic_rule(ruleName="iot_lake_weather_cold_to_dynamodb")["rule"]
    assert cold["actions"][0]["dynamoDBv2"]["putItem"]["tableName"] == "weather_cold_readings"
    assert cold["errorAction"]["s3"]["bucketName"] == "acme-iot-raw"
    device_policy = json.loads(
        iot.get_policy(policyName="iot-lake-weather-station")["policyDocument"]
    )
    assert all(s["Action"] != "*" for s in device_policy["Statement"])
    assert f"arn:aws:iot:eu-west-1:{ACCOUNT}:topic/sensor/weather" in json.dumps(device_policy)
    thing_type = iot.describe_thing_type(thingTypeName="iot-lake-weather-station")
    assert thing_type["thingTypeProperties"]["searchableAttributes"] == ["isd_station"]

    iam = aws_account.client("iam")
    trust = iam.get_role(RoleName="iot-lake-firehose-delivery")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {"sts:ExternalId": ACCOUNT}}
    inline = iam.get_role_policy(
        RoleName="iot-lake-iot-rules", PolicyName="iot-lake-iot-rules-policy"
    )["PolicyDocument"]
    assert "kms:GenerateDataKey" not in json.dumps(inline)  # no key configured: no grant
    assert iam.get_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/iot-lake-airflow")


def test_second_run_reports_no_changes_and_makes_no_mutating_call(aws_account):
    provision(aws_account)
    aws_account.recorder.clear()

    changes = provision(aws_account)

    assert [c for c in changes if c.action != "unchanged"] == []
    assert not has_mutations(changes)
    assert summary(changes).startswith("no changes")
    assert aws_account.recorder.mutating == []
    assert aws_account.recorder.operations  # it did read every resource


def test_dry_run_plans_everything_and_changes_nothing(aws_account):
    plan = provision(aws_account, dry_run=True)

    assert plan and {c.action for c in plan} == {"created"}
    assert aws_account.recorder.mutating == []
    assert aws_account.client("s3").list_buckets()["Buckets"] == []
    assert summary(plan, dry_run=True).startswith("plan: ")
    assert plan[0].line(dry_run=True).startswith("would be created")


def test_drift_is_put_back_and_reported_as_updated(aws_account):
    provision(aws_account)
    s3 = aws_account.client("s3")
    s3.delete_public_access_block(Bucket="acme-iot-raw")
    s3.put_bucket_lifecycle_configuration(
        Bucket="acme-iot-lake",
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "hand-made",
                    "Filter": {"Prefix": ""},
                    "Status": "Enabled",
                    "Expiration": {"Days": 1},
                }
            ]
        },
    )
    firehose = aws_account.client("firehose")
    stream = firehose.describe_delivery_stream(DeliveryStreamName="iot-lake-raw-weather")[
        "DeliveryStreamDescription"
    ]
    firehose.update_destination(
        DeliveryStreamName="iot-lake-raw-weather",
        CurrentDeliveryStreamVersionId=stream["VersionId"],
        DestinationId=stream["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}},
    )
    iot = aws_account.client("iot")
    rule = iot.get_topic_rule(ruleName="iot_lake_weather_to_firehose")["rule"]
    iot.replace_topic_rule(
        ruleName="iot_lake_weather_to_firehose",
        topicRulePayload={"sql": "SELECT * FROM 'other'", "actions": rule["actions"]},
    )
    iam = aws_account.client("iam")
    iam.put_role_policy(
        RoleName="iot-lake-firehose-delivery",
        PolicyName="iot-lake-firehose-delivery-policy",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    aws_account.client("glue").update_database(
        Name="iot_lake", DatabaseInput={"Name": "iot_lake", "Description": "edited by hand"}
    )
    iot.create_policy_version(
        policyName="iot-lake-weather-station",
        policyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iot:*", "Resource": "*"}],
            }
        ),
        setAsDefault=True,
    )

    changes = provision(aws_account)

    updated = {(c.kind, c.name): c.details for c in changes if c.action == "updated"}
    assert updated[("s3 bucket", "acme-iot-raw (raw)")] == ("public access block",)
    # The hand-made rule is kept (the setup merges by rule ID) and reported: it expires
    # the whole bucket.
    assert updated[("s3 bucket", "acme-iot-lake (curated, photos, query_results)")] == (
        "lifecycle rules",
        "lifecycle rule hand-made (not the setup's, kept) expires objects after 1 day under "
        "s3://acme-iot-lake/: curated, photos data",
    )
    assert any("BufferingHints" in d for d in updated[("firehose stream", "iot-lake-raw-weather")])
    assert ("iot topic rule", "iot_lake_weather_to_firehose") in updated
    assert updated[("iam role", "iot-lake-firehose-delivery")] == ("inline policy",)
    assert ("glue database", "iot_lake") in updated
    assert ("iot policy", "iot-lake-weather-station") in updated
    assert len(updated) == 7
    assert s3.get_public_access_block(Bucket="acme-iot-raw")["PublicAccessBlockConfiguration"][
        "BlockPublicPolicy"
    ]
    assert iot.get_topic_rule(ruleName="iot_lake_weather_to_firehose")["rule"]["sql"] == (
        "SELECT * FROM 'sensor/weather'"
    )
    assert not has_mutations(provision(aws_account))


def test_kms_key_encrypts_buckets_and_stream_and_is_granted_to_the_roles(aws_account, monkeypatch):
    key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    monkeypatch.setenv("IOT_LAKE_KMS_KEY_ARN", key)

    provision(aws_account)

    rule = aws_account.client("s3").get_bucket_encryption(Bucket="acme-iot-raw")[
        "ServerSideEncryptionConfiguration"
    ]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key,
    }
    destination = aws_account.client("firehose").describe_delivery_stream(
        DeliveryStreamName="iot-lake-raw-weather"
    )["DeliveryStreamDescription"]["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert destination["EncryptionConfiguration"] == {"KMSEncryptionConfig": {"AWSKMSKeyARN": key}}
    inline = aws_account.client("iam").get_role_policy(
        RoleName="iot-lake-firehose-delivery", PolicyName="iot-lake-firehose-delivery-policy"
    )["PolicyDocument"]
    kms = [s for s in inline["Statement"] if s["Sid"] == "EncryptWithLakeKey"]
    assert kms and kms[0]["Resource"] == key
    assert not has_mutations(provision(aws_account))


def test_table_with_other_keys_is_refused_with_a_clear_error(aws_account):
    aws_account.client("dynamodb").create_table(
        TableName="weather_cold_readings",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(RuntimeError, match="keys cannot be changed in place"):
        provision(aws_account)


def test_device_policy_is_deployed_as_the_registration_tool_renders_it(aws_account):
    from simulators.things.aws import POLICY_NAME, render_policy

    provision(aws_account)

    deployed = aws_account.client("iot").get_policy(policyName=POLICY_NAME)["policyDocument"]
    assert json.loads(deployed) == json.loads(render_policy("eu-west-1", ACCOUNT))
