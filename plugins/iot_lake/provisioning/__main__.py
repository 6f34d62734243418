"""CLI: ``python -m iot_lake.provisioning [--dry-run] [--step STEP ...]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from iot_lake.config import settings
from iot_lake.provisioning import ADMIN_STEPS, STEPS, run
from iot_lake.provisioning.report import summary


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m iot_lake.provisioning",
        description=(
            "Create or update everything the iot-lake pipeline needs, idempotently. The "
            "backend comes from IOT_LAKE_BACKEND (local|aws) or the lake_default connection; "
            "AWS credentials from the standard chain (AWS_PROFILE, env, instance role). A "
            "second run prints 'no changes'."
        ),
    )
    p.add_argument(
        "--step",
        dest="steps",
        action="append",
        choices=(*ADMIN_STEPS, *STEPS),
        help="run only this step (repeatable); default: all but 'identities', in order. "
        "'identities' (an administrator, once): permissions boundary, runtime policy, "
        "deploy role",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="read and compare only: print what would be created or updated",
    )
    p.add_argument(
        "--fail-on-changes",
        action="store_true",
        help="exit 3 when anything was (or would be) created or updated (drift check in CI)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every API call's logger")
    p.add_argument(
        "--render-policy",
        metavar="NAME",
        help="print include/iam/NAME_policy.json rendered for this deployment (lake_setup: "
        "the deploy role, airflow: the runtime policy; boundary: the permissions boundary) "
        "and exit; needs --account-id or STS",
    )
    p.add_argument("--account-id", help="with --render-policy: the account (default: STS)")
    p.add_argument("--partition", default="aws", help="with --render-policy (default: aws)")
    return p


def render_policy(name: str, account_id: str | None, partition: str) -> str:
    import json

    from iot_lake.provisioning import default_session
    from iot_lake.provisioning.deployment import Deployment
    from iot_lake.provisioning.documents import policy_document

    lake = settings()
    if not account_id:
        identity = default_session(lake).client("sts").get_caller_identity()
        account_id, partition = identity["Account"], identity["Arn"].split(":")[1]
    deployment = Deployment.for_account(lake, account_id, partition)
    if name == "boundary":
        from iot_lake.provisioning.identities import permissions_boundary

        return json.dumps(permissions_boundary(deployment), indent=2)
    return json.dumps(policy_document(f"iam/{name}_policy.json", deployment.values()), indent=2)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.render_policy:
        print(render_policy(args.render_policy, args.account_id, args.partition))
        return 0
    if not args.verbose:  # before Airflow is imported: its hooks log every statement at INFO
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    lake = settings()  # may import Airflow, which installs its own logging setup
    if not args.verbose:
        for noisy in ("airflow.task.hooks", "botocore.credentials", "iot_lake.devices"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    print(f"iot-lake setup: {lake}" + (" (dry run)" if args.dry_run else ""))
    changes = run(args.steps or STEPS, lake, dry_run=args.dry_run)
    for change in changes:
        print("  " + change.line(args.dry_run))
    print(summary(changes, args.dry_run))
    if args.fail_on_changes and any(c.action in ("created", "updated") for c in changes):
        return 3
    return 0


# Airflow's plugin loader imports every file under plugins/ by its bare name, so this file
# also arrives as a module called "__main__": only run when started with ``python -m``.
if __name__ == "__main__" and __spec__ is not None and __spec__.name == f"{__package__}.__main__":
    sys.exit(main())
