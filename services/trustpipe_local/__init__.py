"""The local stack, for development only: moto server, PostgreSQL, Terraform against moto,
Airflow standalone, and the demo with its report. Never installed on a worker."""
