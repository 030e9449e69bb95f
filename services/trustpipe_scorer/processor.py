"""`python -m trustpipe_scorer.processor SETTINGS`: the process the KCL daemon runs per shard."""

from trustpipe_scorer.app import build_worker
from trustpipe_stream.service import processor_main

if __name__ == "__main__":
    processor_main(build_worker)
