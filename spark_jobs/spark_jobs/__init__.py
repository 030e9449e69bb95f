"""PySpark jobs: hourly batch scoring and the nightly model build (local[*] or EMR)."""
