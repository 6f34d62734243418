"""Device identities and IoT resources shared by provisioning and the simulators.

The simulators import these modules; the library never imports the simulators.
"""
