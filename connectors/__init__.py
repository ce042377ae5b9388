"""Connector plugins, written against ``mirror.runtime.contracts``."""
