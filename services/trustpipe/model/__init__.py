"""The trust model: features of a message, a versioned artifact, and the pure-Python scorer.

The Spark job applies the same artifact with native column expressions (spark_jobs); the two
must agree on every message (the parity test holds them to 1e-9).
"""
