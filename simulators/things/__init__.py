"""Thing registration: identities for the weather stations, locally (CA + Mosquitto) or on AWS IoT.

``python -m simulators.things create --count 5`` (see ``__main__``); the local half lives in
:mod:`simulators.things.local`, the AWS half in :mod:`simulators.things.aws`.
"""
