"""The OpenTelemetry package's version, where the SDK's keeps it (`durable.otel.__about__.__version__`)."""

__version__ = "0.1.0"
