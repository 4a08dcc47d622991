"""The package version, where the SDK keeps it (`durable.__about__.__version__`)."""

__version__ = "0.1.0"
