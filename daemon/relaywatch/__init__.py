"""relaywatch: find and record who republished which news story."""

__version__ = "0.1.0"
