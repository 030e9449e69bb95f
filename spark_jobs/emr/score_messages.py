"""spark-submit entry point on EMR (uploaded to <code_uri>/jobs/): the installed job's main()."""

from spark_jobs.score_messages import main

if __name__ == "__main__":
    main()
