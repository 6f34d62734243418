"""Weather stations that replay real NOAA ISD observations over MQTT.

- :mod:`.isd` parses ISD files (streaming), :mod:`.message` turns observations into the
  published JSON objects (:func:`messages_from_files` yields them without any MQTT),
- :mod:`.fleet` runs one MQTT client per station, ``python -m simulators.weather_station``.
"""

from simulators.weather_station.message import messages_from_file, messages_from_files

__all__ = ["messages_from_file", "messages_from_files"]
