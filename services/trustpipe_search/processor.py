"""`python -m trustpipe_search.processor SETTINGS`: the process the KCL daemon runs per shard of
the scored stream for the ``indexer`` group."""

from trustpipe_search.app import stream_indexer
from trustpipe_stream.service import processor_main

if __name__ == "__main__":
    processor_main(stream_indexer)
