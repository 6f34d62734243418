"""Simulated devices that feed the lake: weather stations replaying NOAA ISD over MQTT."""
