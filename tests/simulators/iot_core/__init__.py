"""Tests of the local rules engine internals (simulators/iot_core)."""
