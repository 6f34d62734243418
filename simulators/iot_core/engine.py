"""The rules engine proper: route each logged message through the rules and their actions.

No MQTT here: the service feeds it records that are already in the write-ahead log, live
or replayed after a crash, so both paths behave the same. Per message: rules whose topic
filter matches count it as received; a payload that is not a JSON object goes to the
rule's error action with the reason; a WHERE that is not true drops it (as IoT Core does);
otherwise each action gets the SELECT result:

- ``firehose``: the result (the payload byte for byte for ``SELECT *``) plus the action's
  separator, into the stream's buffer;
- ``dynamoDBv2``: one item per result, written in one batch per group of messages;
- ``s3``: one object per result at the action's key (substitution templates evaluated).

A failed action sends IoT Core's error message (rule, topic, reason, base64 original
payload) to the rule's error action.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from paho.mqtt.client import topic_matches_sub

from iot_lake.storage import atomic_open, join
from simulators.iot_core.delivery import FirehoseStream, day_partition
from simulators.iot_core.dynamodb import DynamoDBTableWriter, ItemError
from simulators.iot_core.metrics import Metrics
from simulators.iot_core.rule_sql import MessageContext, evaluate_template
from simulators.iot_core.rules import Rule
from simulators.iot_core.wal import WalRecord

log = logging.getLogger(__name__)

FIREHOSE_MAX_RECORD_BYTES = 1000 * 1024
"""Firehose refuses larger records (PutRecord ValidationException): they go to errors."""
MAX_PAYLOAD_BYTES = FIREHOSE_MAX_RECORD_BYTES
"""A larger payload goes to the error action unparsed (no action could take it)."""

_ACTION_NAMES = {"firehose": "FirehoseAction", "dynamoDBv2": "DynamoDBv2Action", "s3": "S3Action"}


class ActionError(RuntimeError):
    """An action could not take a message; the message goes to the rule's error action."""


@dataclass
class _PendingItem:
    rule: Rule
    record: WalRecord
    item: dict[str, Any]


@dataclass
class Sinks:
    """Where actions write: Firehose streams by name, DynamoDB tables, S3 bucket roots."""

    streams: Mapping[str, FirehoseStream]
    table_writer: Callable[[str], DynamoDBTableWriter]
    bucket_roots: Mapping[str, str]
    on_stream_full: Callable[[FirehoseStream], None] = field(default=lambda stream: None)


class RulesEngine:
    def __init__(self, rules: Sequence[Rule], sinks: Sinks, metrics: Metrics) -> None:
        self.rules = list(rules)
        self.sinks = sinks
        self.metrics = metrics
        self._counts: Counter[tuple[str, str]] = Counter()
        self._by_topic: dict[str, list[Rule]] = {}
        self._rule_actions: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
        self._records: dict[str, list[tuple[bytes, int, int, str, str]]] = {}
        self._partitioned = {
            name: s.config.dynamic_partitioning for name, s in sinks.streams.items()
        }
        for rule in self.rules:
            # Each action is a one-key mapping {kind: params}; split once, not per message.
            actions = self._rule_actions[rule.name] = [
                next(iter(action.items())) for action in rule.actions
            ]
            for kind, params in actions:
                if kind == "firehose" and params["deliveryStreamName"] not in sinks.streams:
                    raise ActionError(
                        f"rule {rule.name}: no local delivery stream named "
                        f"{params['deliveryStreamName']!r} (have {sorted(sinks.streams)})"
                    )

    def _rules_for(self, topic: str) -> list[Rule]:
        rules = self._by_topic.get(topic)
        if rules is None:
            rules = [r for r in self.rules if topic_matches_sub(r.query.topic_filter, topic)]
            if len(self._by_topic) < 10_000:
                self._by_topic[topic] = rules
        return rules

    def process(self, records: Sequence[WalRecord]) -> None:
        """Run every record through the rules; DynamoDB items go out in one batch.

        Each payload is parsed once for all rules; counters and Firehose records are
        gathered per batch (one metrics update, one buffer lock per stream).
        """
        items: dict[str, list[_PendingItem]] = {}
        self._counts: Counter[tuple[str, str]] = Counter()
        self._records: dict[str, list[tuple[bytes, int, int, str, str]]] = {}
        for record in records:
            rules = self._rules_for(record.topic)
            if rules:
                try:
                    self._process_one(record, rules, items)
                except Exception as err:  # no message may stop the service: it is an error
                    log.exception("rule evaluation failed on message seq %d", record.seq)
                    self._quarantine(record, rules, items, f"rule evaluation failed: {err!r}")
        for name, records_in in self._records.items():
            stream = self.sinks.streams[name]
            if stream.put_many(records_in):
                self.sinks.on_stream_full(stream)
        for table, pending in items.items():
            self._write_items(table, pending)
        self.metrics.add_many(self._counts)

    def _process_one(
        self,
        record: WalRecord,
        rules: list[Rule],
        items: dict[str, list[_PendingItem]],
    ) -> None:
        ctx = MessageContext(record.topic, None, record.arrival_ms)
        doc, problem = parse_payload(record.payload)
        for rule in rules:
            self._counts[rule.name, "received"] += 1
            if problem is not None:
                self._fail(rule, record, ctx, next(iter(rule.actions[0])), "", problem)
                continue
            if not rule.query.matches(doc, ctx):
                continue
            self._counts[rule.name, "matched"] += 1
            for kind, params in self._rule_actions[rule.name]:
                try:
                    if kind == "firehose":
                        self._to_firehose(rule, record, doc, ctx, params)
                    elif kind == "dynamoDBv2":
                        table = params["putItem"]["tableName"]
                        writer = self._writer(table)
                        item = writer.item(rule.query.project(doc, ctx))
                        items.setdefault(table, []).append(_PendingItem(rule, record, item))
                    elif kind == "s3":
                        self._to_s3(params, doc, ctx, rule.query.project(doc, ctx))
                        self._counts[rule.name, "delivered"] += 1
                except (ActionError, ItemError, OSError) as err:
                    resource = _resource(kind, params)
                    self._fail(rule, record, ctx, kind, resource, str(err))

    def _quarantine(
        self,
        record: WalRecord,
        rules: list[Rule],
        items: dict[str, list[_PendingItem]],
        reason: str,
    ) -> None:
        """Undo what a failed message put in this batch and send it to the error actions."""
        for name, batch in self._records.items():
            self._records[name] = [r for r in batch if r[2] != record.seq]
        for table, pending in items.items():
            items[table] = [p for p in pending if p.record.seq != record.seq]
        ctx = MessageContext(record.topic, None, record.arrival_ms)
        for rule in rules:
            self._fail(rule, record, ctx, next(iter(rule.actions[0])), "", reason)

    def _writer(self, table: str) -> DynamoDBTableWriter:
        try:
            return self.sinks.table_writer(table)
        except Exception as err:  # botocore: missing table, endpoint down
            raise ActionError(f"DynamoDB table {table} is not usable: {err}") from err

    def _to_firehose(
        self,
        rule: Rule,
        record: WalRecord,
        doc: dict[str, Any],
        ctx: MessageContext,
        params: Mapping[str, Any],
    ) -> None:
        result: Any = doc
        if rule.query.is_passthrough and b"\n" not in record.payload:
            data = record.payload  # SELECT *: the payload as published, no re-encoding
        else:
            # One line per record: pretty-printed JSON is re-encoded compactly.
            result = rule.query.project(doc, ctx)
            data = _dumps(result)
        separator = params.get("separator")
        if separator:
            data += separator.encode()
        if len(data) > FIREHOSE_MAX_RECORD_BYTES:
            raise ActionError(
                f"record of {len(data)} bytes exceeds Firehose's limit of "
                f"{FIREHOSE_MAX_RECORD_BYTES} bytes"
            )
        # Buffered in order per stream; process() puts them in with one lock.
        name = params["deliveryStreamName"]
        batch = self._records.get(name)
        if batch is None:
            batch = self._records[name] = []
        key = day_partition(result) if self._partitioned[name] else ""
        batch.append((data, record.arrival_ms, record.seq, rule.name, key))

    def _to_s3(
        self,
        params: Mapping[str, Any],
        doc: Mapping[str, Any],
        ctx: MessageContext,
        body: Any,
    ) -> str:
        bucket = params["bucketName"]
        root = self.sinks.bucket_roots.get(bucket)
        if root is None:
            raise ActionError(f"no local location for bucket {bucket!r}")
        key = evaluate_template(params["key"], doc, ctx)
        uri = join(root, key)
        with atomic_open(uri) as handle:
            handle.write(_dumps(body))
        return uri

    def _write_items(self, table: str, pending: list[_PendingItem]) -> None:
        try:
            self._writer(table).put_many([p.item for p in pending])
        except Exception as err:  # botocore errors, connection failures
            log.warning("DynamoDB table %s: %d items failed: %s", table, len(pending), err)
            for entry in pending:
                ctx = MessageContext(entry.record.topic, timestamp_ms=entry.record.arrival_ms)
                self._fail(entry.rule, entry.record, ctx, "dynamoDBv2", table, str(err))
            return
        for entry in pending:
            self._counts[entry.rule.name, "delivered"] += 1

    def _fail(
        self,
        rule: Rule,
        record: WalRecord,
        ctx: MessageContext,
        kind: str,
        resource: str,
        reason: str,
    ) -> None:
        """Hand the message to the rule's error action, in IoT Core's error message shape."""
        self._counts[rule.name, "errored"] += 1
        message = error_message(
            rule.name, record, ctx, _ACTION_NAMES.get(kind, kind), resource, reason
        )
        action = rule.error_action
        if action is None:
            log.error("rule %s has no error action; failed message: %s", rule.name, message)
            return
        kind, params = next(iter(action.items()))
        try:
            if kind != "s3":
                raise ActionError(f"error action {kind!r} is not supported locally")
            uri = self._to_s3(params, {}, ctx, message)
            log.info("rule %s: message to error action at %s: %s", rule.name, uri, reason)
        except (ActionError, OSError) as err:
            # Last resort, as IoT Core logs a failed error action: keep the message in the log.
            log.error("rule %s: error action failed (%s); message: %s", rule.name, err, message)


def parse_payload(payload: bytes) -> tuple[Any, str | None]:
    """The payload parsed once for every rule, or the reason it is not a JSON object.

    Strict JSON (RFC 8259) with orjson: ``NaN``/``Infinity`` literals, numbers that
    overflow to infinity, invalid UTF-8 and nesting deeper than 1024 are refused, as is a
    payload over :data:`MAX_PAYLOAD_BYTES`. Never raises: whatever a device sends, the
    answer is a document or a reason. (orjson reads integers beyond 64 bits as floats.)
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None, f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES} bytes"
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        return None, f"payload is not valid JSON: {err}"
    except Exception as err:
        return None, f"payload could not be parsed: {err!r}"
    if not isinstance(doc, dict):
        return doc, "payload is not a JSON object"
    return doc, None


def _dumps(value: Any) -> bytes:
    """Compact JSON, strict: a non-finite number raises (and the message goes to errors)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def error_message(
    rule_name: str,
    record: WalRecord,
    ctx: MessageContext,
    failed_action: str,
    failed_resource: str,
    reason: str,
) -> dict[str, Any]:
    """The document IoT Core hands to an error action."""
    return {
        "ruleName": rule_name,
        "topic": record.topic,
        "cloudwatchTraceId": str(uuid.uuid4()),
        "clientId": ctx.client_id or "",
        "timestamp": record.arrival_ms,
        "base64OriginalPayload": base64.b64encode(record.payload).decode(),
        "failures": [
            {
                "failedAction": failed_action,
                "failedResource": failed_resource,
                "errorMessage": reason,
            }
        ],
    }


def _resource(kind: str, params: Mapping[str, Any]) -> str:
    if kind == "firehose":
        return str(params.get("deliveryStreamName", ""))
    if kind == "dynamoDBv2":
        return str(params.get("putItem", {}).get("tableName", ""))
    if kind == "s3":
        return str(params.get("bucketName", ""))
    return ""
