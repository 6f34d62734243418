"""The policy evaluator used by the IAM tests: wildcards, deny, conditions."""

from __future__ import annotations

import pytest

from iot_lake.errors import UnsupportedCondition
from iot_lake.provisioning.iam_check import (
    is_allowed,
    wildcard_actions,
)

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:Get*", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/raw/*"],
        },
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/raw/secret*"},
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::1:role/r-?",
            "Condition": {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}},
        },
    ],
}


def test_wildcards_match_actions_case_insensitively_and_resources_exactly():
    assert is_allowed(POLICY, "s3:GetObject", "arn:aws:s3:::lake/raw/a/b.gz")
    assert is_allowed(POLICY, "S3:getobject", "arn:aws:s3:::lake/raw/x")
    assert not is_allowed(POLICY, "s3:GetObject", "arn:aws:s3:::lake/RAW/x")
    assert not is_allowed(POLICY, "s3:PutObject", "arn:aws:s3:::lake/raw/x")
    assert not is_allowed(POLICY, "s3:GetObject", "arn:aws:s3:::lake-other/raw/x")


def test_explicit_deny_beats_allow():
    assert not is_allowed(POLICY, "s3:GetObject", "arn:aws:s3:::lake/raw/secret.txt")


def test_condition_on_a_missing_key_does_not_hold():
    role = "arn:aws:iam::1:role/r-1"
    assert is_allowed(POLICY, "iam:PassRole", role, {"iam:PassedToService": "glue.amazonaws.com"})
    assert not is_allowed(
        POLICY, "iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"}
    )
    assert not is_allowed(POLICY, "iam:PassRole", role)
    assert not is_allowed(
        POLICY,
        "iam:PassRole",
        "arn:aws:iam::1:role/r-12",
        {"iam:PassedToService": "glue.amazonaws.com"},
    )


def test_unknown_condition_operator_is_an_error_not_a_guess():
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"NumericLessThan": {"s3:max-keys": "10"}},
            }
        ]
    }
    with pytest.raises(UnsupportedCondition):
        is_allowed(policy, "s3:GetObject", "arn:aws:s3:::b/k", {"s3:max-keys": "5"})


def test_wildcard_actions_are_reported():
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:*", "s3:Get*"], "Resource": "*"},
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*"},
        ]
    }
    assert wildcard_actions(policy) == ["s3:*", "*", "NotAction iam:*"]


def test_a_negated_condition_on_a_key_the_request_lacks_holds_as_in_iam():
    """IAM: a key absent from the request matches no value, so StringNotEquals is true.

    ("If the key that you specify in a policy condition is not present in the request
    context, the values do not match", IAM User Guide, condition operators; the negated
    operators then hold.) A deny on roles created without the boundary relies on it.
    """
    guard = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "iam:CreateRole",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": "arn:b"}},
            },
        ],
    }
    role = "arn:aws:iam::1:role/r"
    assert is_allowed(guard, "iam:CreateRole", role, {"iam:PermissionsBoundary": "arn:b"})
    assert not is_allowed(guard, "iam:CreateRole", role, {"iam:PermissionsBoundary": "arn:c"})
    assert not is_allowed(guard, "iam:CreateRole", role)  # no boundary at all
