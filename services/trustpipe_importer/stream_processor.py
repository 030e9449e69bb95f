"""`python -m trustpipe_importer.stream_processor SETTINGS`: the process the KCL daemon runs per
shard of the scored stream."""

from trustpipe_importer.app import stream_importer
from trustpipe_stream.service import processor_main

if __name__ == "__main__":
    processor_main(stream_importer)
