"""Runs inside the unpacked MWAA tree (a subprocess of test_mwaa_package): only dags/ and
plugins/ of the package are importable, as on MWAA. Prints one JSON line of findings.

Usage: python mwaa_runner.py <airflow home> <harness dir>
The harness dir holds only ``aws_answers.py`` (moto's missing Glue classifier API); it is
test support, not the repository.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

home, harness = sys.argv[1], sys.argv[2]
sys.path.insert(0, harness)
from aws_answers import GlueClassifiers, ServerDefaults, everywhere  # noqa: E402

out: dict[str, object] = {
    "simulators_importable": importlib.util.find_spec("simulators") is not None,
    "tests_importable": importlib.util.find_spec("tests") is not None,
}

with everywhere(ServerDefaults(), GlueClassifiers()) as (defaults, _):
    import iot_lake
    from iot_lake import config

    out["iot_lake"] = iot_lake.__file__
    out["include_dir"] = str(config.INCLUDE_DIR)

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.path.join(home, "dags"))
    out["import_errors"] = {k: str(v) for k, v in bag.import_errors.items()}
    out["dag_ids"] = sorted(bag.dag_ids)

    # An administrator's one-time step first (boundary, runtime policy, deploy role):
    # lake_setup runs as the deploy role, which creates roles only under the boundary.
    from iot_lake.provisioning import ADMIN_STEPS, run

    out["identities"] = sorted(c.action for c in run(ADMIN_STEPS))

    # lake_setup: the DAG itself, twice; the report task's line of each run.
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    dag = bag.dags["lake_setup"]
    reports, states = [], []
    for _ in range(2):
        run = dag.test()
        states.append({ti.task_id: ti.state for ti in run.get_task_instances()})
        with create_session() as session:
            [value] = session.scalars(
                XComModel.get_many(
                    run_id=run.run_id, dag_ids="lake_setup", task_ids="report"
                ).with_only_columns(XComModel.value)
            ).all()
        reports.append(XComModel.deserialize_value(type("X", (), {"value": value})()))
    out["lake_setup_states"] = states
    out["lake_setup_reports"] = reports
    # register_tables: the weather_lake task's own callable, twice.
    register = bag.dags["weather_lake"].get_task("register_tables").python_callable
    out["register_tables"] = [register(), register()]

    out["server_defaults_seen"] = defaults.seen

print("RESULT " + json.dumps(out, default=str))
