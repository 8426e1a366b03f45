"""Test infrastructure: throw-away Redis Cluster, PostgreSQL databases and service checks."""
