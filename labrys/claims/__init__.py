"""Claims as data: what systems promise, and what a run shows about it.

The problem. Every database documents some guarantees and disclaims others: etcd's
reads are linearizable unless asked to be serializable; Redis's documentation says a
failover can lose acknowledged writes; PostgreSQL defines each isolation level. To
compare what systems promise with what they deliver, the promises must be data,
declared once, with where each comes from, and read by everything that needs them:
`labrys compare`'s matrix, the expectations of suites (``expect = "claims"``) and
the README's table.

The pieces:

- ``guarantees.toml``: the guarantees (linearizable, no lost writes, the isolation
  levels…), what each means, and which anomaly kinds of which workload violate it
  (`Guarantees`, `Status`).
- ``<target>.toml``: one file per target, configurations (option values) and, per
  named `Source`, the guarantees claimed or disclaimed and the anomaly kinds
  prevented or allowed (`TargetClaims`; `Registry.claims_for` gives a run's `Claims`).
- `Observation`: a stored run reduced to what claims are judged by (`observe_run`).

Adding a target's claims is adding ``labrys/claims/<target>.toml``; a workload that
decides a guarantee adds itself to that guarantee's ``decided_by`` in
``guarantees.toml``.

Example:
    >>> registry = default_registry()
    >>> sorted(registry.claims_for("etcd", {"read_mode": "serializable"}).claimed())
    ['no-lost-writes']
"""

from labrys.claims._guarantees import Guarantee, Guarantees, Status
from labrys.claims._observation import Observation, anomaly_counts, find_runs, observe_run
from labrys.claims._registry import (
    CLAIMS_DIR,
    Claims,
    Registry,
    Source,
    Stance,
    TargetClaims,
    default_registry,
    load_claims_file,
    load_registry,
)

__all__ = [
    "CLAIMS_DIR",
    "Claims",
    "Guarantee",
    "Guarantees",
    "Observation",
    "Registry",
    "Source",
    "Stance",
    "Status",
    "TargetClaims",
    "anomaly_counts",
    "default_registry",
    "find_runs",
    "load_claims_file",
    "load_registry",
    "observe_run",
]
