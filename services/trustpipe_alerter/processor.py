"""`python -m trustpipe_alerter.processor SETTINGS`: the process the KCL daemon runs per shard
of the imported stream."""

from trustpipe_alerter.app import build_worker
from trustpipe_stream.service import processor_main

if __name__ == "__main__":
    processor_main(build_worker)
