"""Runs of the whole pipeline on the local stack, for development only: the demo (a batch hour,
then the stream) with its report, and the chaos run. Never installed on a worker."""
