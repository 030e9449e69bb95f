"""`python -m trustpipe_scorer.processor SETTINGS`: the process the KCL daemon runs per shard."""

import sys
from pathlib import Path

from trustpipe_scorer.app import run_processor

if __name__ == "__main__":
    run_processor(Path(sys.argv[1]))
