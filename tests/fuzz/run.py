"""``make fuzz``: the readers' property tests, for as long as they are given.

The test suite runs a few hundred inputs per reader (`tests.fuzz.test_readers_fuzz`);
this runs the same property, reader after reader, in sessions of ``--chunk`` inputs
until ``--seconds`` have passed, and then says how many inputs each reader met and
whether any broke the contract (`tests.fuzz.readers.holds_contract`).

Why Hypothesis and not a coverage-guided fuzzer such as atheris: the readers are
shallow (a regular-expression tokenizer, `json`, `tomllib`) and their bugs live in
structure, a value of the wrong type or size in the right place, which the structured
generators of `tests.fuzz.inputs` reach directly, while random bytes mostly die at the
first character. Hypothesis also shrinks a failure to a small input, keeps it in its
example database (``.hypothesis/``) to be replayed first next time, and is already how
the test suite fuzzes, so the long run and the test suite share one property and one
set of generators. atheris would add a compiled dependency for coverage guidance the
structure already gives.

The process runs with its address space bounded (``--memory-mib``), so a reader whose
memory grows without bound fails with MemoryError, which the contract counts as a
finding, instead of taking the machine with it.

Usage:
    .venv/bin/python -m tests.fuzz.run [--seconds 1800] [--chunk 500] [--only NAME]

Exit status: 0 when no input broke the contract, 1 otherwise (each finding is printed
with its shrunk input and written to ``fuzz-findings/``).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from tests.fuzz.inputs import inputs_for
from tests.fuzz.readers import READERS, Reader, holds_contract

FINDINGS = Path("fuzz-findings")


@dataclass
class Tally:
    """What one reader met: inputs, seconds, and the findings' descriptions."""

    inputs: int = 0
    seconds: float = 0.0
    findings: list[str] = field(default_factory=list)


def _session(reader: Reader, tally: Tally, chunk: int, database: Path) -> None:
    """One Hypothesis session of ``chunk`` inputs for ``reader``; a finding is recorded."""
    folder = Path(tempfile.mkdtemp(prefix="labrys-fuzz-"))
    failing: list[bytes] = []

    @settings(max_examples=chunk, deadline=None, print_blob=True,
              database=DirectoryBasedExampleDatabase(str(database)),
              suppress_health_check=list(HealthCheck))
    @given(inputs_for(reader.seeds))
    def run(data: bytes) -> None:
        tally.inputs += 1
        try:
            holds_contract(reader, data, folder)
        except BaseException:
            failing[:] = [data]
            raise

    start = time.monotonic()
    try:
        run()
    except Exception as e:  # the shrunk failure, after Hypothesis is done with it
        FINDINGS.mkdir(exist_ok=True)
        saved = FINDINGS / f"{reader.name}-{len(tally.findings) + 1}{reader.suffix}"
        saved.write_bytes(failing[0] if failing else b"")
        tally.findings.append(f"{type(e).__name__}: {str(e)[:300]} (input in {saved})")
    finally:
        tally.seconds += time.monotonic() - start
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1800)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--only", help="fuzz only the readers whose name contains this")
    parser.add_argument("--memory-mib", type=int, default=4096)
    parser.add_argument("--database", type=Path, default=Path(".hypothesis/fuzz"))
    args = parser.parse_args()
    limit = args.memory_mib << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    readers = [r for r in READERS if args.only is None or args.only in r.name]
    tallies = {r.name: Tally() for r in readers}
    deadline = time.monotonic() + args.seconds
    rounds = 0
    while time.monotonic() < deadline and not all(t.findings for t in tallies.values()):
        rounds += 1
        # A reader with a finding leaves the rotation: its failing input is in the
        # example database and would only be found again.
        for reader in [r for r in readers if not tallies[r.name].findings]:
            if time.monotonic() >= deadline:
                break
            _session(reader, tallies[reader.name], args.chunk, args.database)
        done = sum(t.inputs for t in tallies.values())
        print(f"round {rounds}: {done} inputs so far, "
              f"{sum(len(t.findings) for t in tallies.values())} findings", flush=True)
    print(f"\n{'reader':<28}{'inputs':>10}{'seconds':>10}  findings")
    for name, t in tallies.items():
        print(f"{name:<28}{t.inputs:>10}{t.seconds:>10.0f}  {len(t.findings)}")
        for finding in t.findings:
            print(f"    {finding}")
    total = sum(t.inputs for t in tallies.values())
    found = sum(len(t.findings) for t in tallies.values())
    seconds = sum(t.seconds for t in tallies.values())
    print(f"{'total':<28}{total:>10}{seconds:>10.0f}  {found}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
