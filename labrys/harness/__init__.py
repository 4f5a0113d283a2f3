"""The run orchestration: specs, the runner, the interpreter, the store, the commands.

The problem is Jepsen's: run a real cluster, drive it with concurrent clients while a
nemesis injects faults, write down everything that happened, check it, and keep the
lot. This package sits on top of every other one and is imported by nothing but the
command line; the parts it drives (`labrys.targets`, `labrys.workloads`,
`labrys.nemesis`, `labrys.control`) never import it. The pieces, each in its own module:

- `TestSpec` (``_spec``): one frozen value describing a run, from TOML and flags.
- `Interpreter` (``_interpreter``): worker threads, timeouts, the history as it happens.
- the fault plan (``_faults``): the nemesis's schedule as generators, faults in force.
- the store (``_store``): ``results/<test>/<timestamp>/``.
- the live display (``_display``).
- the lifecycle (``_runner``), the ``labrys run`` command (``_cli``) and the ``labrys
  cluster`` commands (``_cluster_cli``), which import targets and workloads and so are
  loaded only by the command line that needs them.

Generators, clients and options live below, in `labrys.generator`, `labrys.client` and
`labrys.options`; their names are re-exported here for code written against this
package.

Example:
    >>> g = clients(limit(3, repeat(Invocation(f="read"))))
    >>> spec = TestSpec(concurrency=2, time_limit_s=5)
"""

from labrys.client import Client, Completion, validate_completion
from labrys.generator import (
    DONE,
    PENDING,
    Context,
    Generator,
    Invocation,
    Step,
    Thread,
    any_of,
    clients,
    cycle,
    each_process,
    flip_flop,
    from_fn,
    independent_keys,
    limit,
    mix,
    nemesis,
    once,
    phases,
    repeat,
    reserve,
    seq,
    sleep,
    stagger,
    synchronize,
    time_limit,
)
from labrys.harness._interpreter import Interpreter, Progress, RunSummary
from labrys.harness._spec import TestSpec, build_spec, load_spec_file
from labrys.harness._store import RunDir, create_run_dir
from labrys.options import Option, check_known, choice, parse_options

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
