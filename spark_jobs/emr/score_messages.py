"""spark-submit entry point on EMR (uploaded to <code_uri>/jobs/): the installed runner's main()."""

from spark_jobs.runner import main

if __name__ == "__main__":
    main()
