"""Lambda entry point of the coffee photo handler (``lambda_function.handler``).

The function's zip (built by ``iot_lake.provisioning.lambda_package.lambda_zip``) holds
this file, ``plugins/iot_lake/`` (only the modules the handler imports) and the
``include/`` files it reads, laid out as in the repository so ``iot_lake.config`` finds
``include/``. All the
code is the library's: :func:`iot_lake.coffee.photo_handler.handler`.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "plugins"))

from iot_lake.coffee.photo_handler import handler

__all__ = ["handler"]
