"""Byte formats of the records mirror reads and writes on Kafka topics. Pure: no I/O."""
