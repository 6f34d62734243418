"""Register weather-station things: ``python -m simulators.things create --count 5``.

Commands::

    create [--count N | --names A B ...]   local CA + certificates + Mosquitto config/ACL
           [--aws]                         ... or AWS IoT things/certificates/policy instead
    broker                                 run Mosquitto in the foreground with that config
    delete --aws                           remove the AWS resources this tool created

Local output goes to ``certs/`` (``IOT_LAKE_CERTS_DIR``): ``ca.crt``, ``server.crt``,
``<thing>/certificate.pem.crt`` + ``private.pem.key``, ``mosquitto.conf``,
``mosquitto.acl``. AWS output goes to ``certs/aws/<thing>/``. Every run is idempotent.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from simulators.things.local import (
    RULES_ENGINE,
    device_defaults,
    ensure_local_pki,
    registered_things,
    thing_names,
    write_mosquitto_config,
)

log = logging.getLogger("simulators.things")


def build_parser() -> argparse.ArgumentParser:
    host, port, certs = device_defaults()
    parser = argparse.ArgumentParser(
        prog="python -m simulators.things",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--certs-dir", type=Path, default=certs, help=f"output directory (default {certs})"
    )
    parser.add_argument("--host", default=host, help=f"broker listen address (default {host})")
    parser.add_argument("--port", type=int, default=port, help=f"broker port (default {port})")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create things (idempotent)")
    who = create.add_mutually_exclusive_group()
    who.add_argument("--count", type=int, default=5, help="weather-station-01..N (default 5)")
    who.add_argument("--names", nargs="+", help="explicit thing names")
    create.add_argument(
        "--aws",
        action="store_true",
        help="register on AWS IoT Core (boto3 credentials/region) instead",
    )
    commands.add_parser("broker", help="run mosquitto with the generated config (foreground)")
    delete = commands.add_parser("delete", help="delete AWS resources created by this tool")
    delete.add_argument("--aws", action="store_true", required=True)
    return parser


def _create_local(args: argparse.Namespace, names: list[str]) -> int:
    pki = ensure_local_pki(args.certs_dir, names)
    conf = write_mosquitto_config(args.certs_dir, host=args.host, port=args.port)
    things = registered_things(args.certs_dir)
    print(f"local CA:        {pki.ca_file}")
    print(f"things:          {', '.join(things)} (+ {RULES_ENGINE})")
    print(f"mosquitto conf:  {conf}")
    print(f"start broker:    mosquitto -c {conf}   (or: python -m simulators.things broker)")
    print("reload ACL:      kill -HUP <mosquitto pid> after adding things to a running broker")
    return 0


def _create_aws(args: argparse.Namespace, names: list[str]) -> int:
    from simulators.things.aws import register_things

    aws_dir = Path(args.certs_dir) / "aws"
    registrations = register_things(names, aws_dir)
    for r in registrations:
        print(f"{r.thing}: certificate {r.certificate_id} -> {r.cert_path}")
    from simulators.things.aws import AwsRegistrar

    endpoint = AwsRegistrar(aws_dir).data_endpoint()
    print(
        "replay with: python -m simulators.weather_station "
        f"--endpoint {endpoint} --port 8883 --certs-dir {aws_dir} --ca-file system"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "create":
        names = list(args.names) if args.names else thing_names(args.count)
        return _create_aws(args, names) if args.aws else _create_local(args, names)
    if args.command == "broker":
        from simulators.things.broker import MOSQUITTO

        ensure_local_pki(args.certs_dir, registered_things(args.certs_dir))
        conf = write_mosquitto_config(args.certs_dir, host=args.host, port=args.port)
        sys.stdout.flush()
        os.execv(MOSQUITTO, [MOSQUITTO, "-c", str(conf)])
    if args.command == "delete":
        from simulators.things.aws import AwsRegistrar

        for item in AwsRegistrar(Path(args.certs_dir) / "aws").deregister():
            print(f"deleted {item}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
