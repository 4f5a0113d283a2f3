"""The harness: test specs, generators, the interpreter, the store.

The problem is Jepsen's: run a real cluster, drive it with concurrent clients while a
nemesis injects faults, write down everything that happened, check it, and keep the
lot. The pieces, each in its own module:

- `TestSpec` (``_spec``): one frozen value describing a run, from TOML and flags.
- generators (``_generator``, ``_combinators``): pure, immutable schedules of
  invocations with Jepsen's combinators, deterministic for a seed.
- `Interpreter` (``_interpreter``): worker threads, timeouts, the history as it happens.
- the store (``_store``): ``results/<test>/<timestamp>/``.
- the lifecycle (``_runner``) and the ``labrys run`` command (``_cli``), which import
  targets and workloads and so are not re-exported here (targets and workloads
  import this package).

Example:
    >>> g = clients(limit(3, repeat(Invocation(f="read"))))
    >>> spec = TestSpec(concurrency=2, time_limit_s=5)
"""

from labrys.harness._client import Client, Completion, validate_completion
from labrys.harness._combinators import (
    any_of,
    clients,
    cycle,
    each_process,
    flip_flop,
    independent_keys,
    limit,
    mix,
    nemesis,
    phases,
    reserve,
    seq,
    stagger,
    synchronize,
    time_limit,
)
from labrys.harness._generator import (
    DONE,
    PENDING,
    Context,
    Generator,
    Invocation,
    Step,
    Thread,
    from_fn,
    once,
    repeat,
    sleep,
)
from labrys.harness._interpreter import Interpreter, Progress, RunSummary
from labrys.harness._options import Option, check_known, choice, parse_options
from labrys.harness._spec import TestSpec, build_spec, load_spec_file
from labrys.harness._store import RunDir, create_run_dir

__all__ = [
    "DONE",
    "PENDING",
    "Client",
    "Completion",
    "Context",
    "Generator",
    "Interpreter",
    "Invocation",
    "Option",
    "Progress",
    "RunDir",
    "RunSummary",
    "Step",
    "TestSpec",
    "Thread",
    "any_of",
    "build_spec",
    "check_known",
    "choice",
    "clients",
    "create_run_dir",
    "cycle",
    "each_process",
    "flip_flop",
    "from_fn",
    "independent_keys",
    "limit",
    "load_spec_file",
    "mix",
    "nemesis",
    "once",
    "parse_options",
    "phases",
    "repeat",
    "reserve",
    "seq",
    "sleep",
    "stagger",
    "synchronize",
    "time_limit",
    "validate_completion",
]
