"""Failover and failback of consumer groups between the clusters of an mm2.properties file."""
