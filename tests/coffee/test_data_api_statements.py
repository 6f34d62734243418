"""What the RDS Data API receives: the statement without its comments (issue 18 item 10).

The requests are the ones botocore sends to the (moto) rds-data endpoint, captured before
they are built; the comments are found by sqlglot's MySQL tokenizer, a lexer independent
of the sqlparse one that strips them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlglot import Dialect

from iot_lake.coffee import photo_writers as pw
from iot_lake.config import SQL_DIR

CLUSTER = "arn:aws:rds:eu-west-1:123456789012:cluster:coffee"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:coffee-db-AbCdEf"
AURORA_FILES = sorted((SQL_DIR / "aurora").glob("*.sql"))
MYSQL = Dialect.get_or_raise("mysql")


def comments(sql: str) -> list[str]:
    return [comment for token in MYSQL.tokenize(sql) for comment in token.comments]


def tokens(sql: str) -> list[tuple[str, str]]:
    return [(token.token_type.name, token.text) for token in MYSQL.tokenize(sql)]


@pytest.fixture
def data_api() -> Any:
    """A moto rds-data client and the list of ExecuteStatement requests it sent."""
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("rds-data", region_name="eu-west-1")
        sent: list[dict[str, Any]] = []
        client.meta.events.register(
            "before-parameter-build.rds-data.ExecuteStatement",
            lambda params, **_: sent.append(dict(params)),
        )
        yield client, sent


def test_there_are_aurora_files_and_each_has_a_comment_to_strip():
    assert {p.name for p in AURORA_FILES} >= {"insert_coffee_photo.sql", "coffees.sql"}
    assert all(comments(p.read_text(encoding="utf-8")) for p in AURORA_FILES)


@pytest.mark.parametrize("path", AURORA_FILES, ids=lambda p: p.name)
def test_no_statement_sent_to_the_data_api_carries_a_comment(path: Path, data_api):
    client, sent = data_api
    writer = pw.DataApiWriter(client, CLUSTER, SECRET, "iot_lake")
    text = path.read_text(encoding="utf-8")

    writer.execute(text, {"day": "2026-11-20"})

    [request] = sent
    assert comments(request["sql"]) == [], request["sql"]
    assert "--" not in request["sql"] and "/*" not in request["sql"]
    assert tokens(request["sql"]) == tokens(text)  # the same statement, comments aside


def test_the_photo_insert_the_lambda_sends_has_no_comment(data_api):
    client, sent = data_api
    writer = pw.DataApiWriter(client, CLUSTER, SECRET, "iot_lake")
    writer.insert({"machine_id": "coffee-machine-01", "photo_url": None})
    [request] = sent
    assert "API's" in pw.INSERT_SQL.read_text(encoding="utf-8")  # the quote that broke it
    assert comments(request["sql"]) == [] and request["sql"].startswith("INSERT INTO coffees")
    assert request["sql"].rstrip().endswith("ON DUPLICATE KEY UPDATE id = id")


def test_quotes_and_comment_markers_inside_literals_are_kept():
    sql = (
        "-- the owner's note\n"
        "SELECT '--not a comment' AS a, \"it's # here\" AS b /* block's */, :name AS c\n"
        "FROM t # trailing, with a quote: '\n"
        "WHERE x = 'a/*b*/c'"
    )
    stripped = pw.data_api_sql(sql)
    assert comments(stripped) == []
    assert "'--not a comment'" in stripped and '"it\'s # here"' in stripped
    assert "'a/*b*/c'" in stripped and ":name" in stripped
    assert "owner's" not in stripped and "block's" not in stripped and "trailing" not in stripped


def test_more_than_one_statement_is_refused():
    with pytest.raises(ValueError, match="one statement"):
        pw.data_api_sql("DELETE FROM coffees; DROP TABLE coffees")
