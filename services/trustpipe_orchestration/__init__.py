"""What the Airflow DAGs run: configuration, the landing wait, EMR specs, checks and alerts.

The DAG files in ``dags/`` only declare; everything that reads, writes or decides lives here and
is imported when a task runs, never when a DAG file is parsed.
"""
