"""iot-lake: the library that the DAGs, operators and simulators share."""
