"""Runnable examples: `durable run examples.<module>:handler --input ...`."""
