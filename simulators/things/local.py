"""Local device identity (CA, certificates, Mosquitto config): lives in the library.

The ``local`` provisioning of ``lake_setup`` creates the same identities, and the library
must not import ``simulators`` (MWAA ships only ``dags/`` and ``plugins/``), so the code is
:mod:`iot_lake.devices.pki`. This name stays an alias of that very module (not a copy), so
``simulators.things.local`` and ``iot_lake.devices.pki`` are one object.
"""

import sys

from iot_lake.devices import pki

sys.modules[__name__] = pki
