"""`make fuzz`: one target (tests/fuzz/targets.py) under atheris, coverage-guided, for a while.

    python -m tests.fuzz.run_atheris framed --seconds 60

The corpus grows in build/fuzz/<target>/ (seeded with valid inputs); an input that escapes is
written to tests/fuzz/regressions/<target>/ and the run stops: fix the cause, keep the file, and
`make test` replays it from then on.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import fastavro  # noqa: F401  (instrumented: its branches guide the search)

    from tests.fuzz import targets

ROOT = Path(__file__).parents[2]


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("target", choices=sorted(targets.BYTE_TARGETS))
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # Apache Avro warns about every mangled logical type
    corpus = ROOT / "build" / "fuzz" / args.target
    corpus.mkdir(parents=True, exist_ok=True)
    for n, seed in enumerate(targets.seeds()[args.target]):
        (corpus / f"seed-{n}").write_bytes(seed)
    found = targets.REGRESSIONS / args.target
    found.mkdir(parents=True, exist_ok=True)
    libfuzzer = [
        sys.argv[0],
        f"-max_total_time={args.seconds}",
        f"-artifact_prefix={found}/",
        "-print_final_stats=1",
        str(corpus),
    ]
    atheris.Setup(libfuzzer, targets.BYTE_TARGETS[args.target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
