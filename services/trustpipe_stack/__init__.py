"""The local stack, for development only: moto server, PostgreSQL, `infra/envs/local` applied
with Terraform, the schema registry, Airflow standalone; every process by pid. Never installed on
a worker."""
