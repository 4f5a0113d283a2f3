"""Models: sequential specifications that the linearizability search checks against.

A model says what a single-threaded object would do: from a state, an operation
either takes effect (giving the next state) or cannot (`Inconsistent`, with a sentence
saying why). The `linearizable` and `sequential` checkers search for an order of a
history's operations that the model accepts; the model never sees time, processes or
concurrency.

Every model is a small frozen dataclass in its own module, with the protocol of
`Model`: ``init``, ``prepare`` (check and normalise a history's calls before the search),
``step``, and ``describe_op``/``describe_state`` for explanations. A model whose state
is a product of independent objects also implements `Partitionable` (the kv store, per
key). Adding a model is one file and one line in `MODELS`. Any model can also be run
over independent keys (`Independent`: values ``[key value]``, one object per key, as
Jepsen's ``independent`` workloads record them), with ``get_model(…, independent=True)``.

Example:
    >>> m = get_model("cas-register", 0)
    >>> m.step(m.init(), Call(index=0, process=0, f="cas", value=(0, 1), known=True,
    ...                       return_index=1))
    1

``get_model(name, init)`` builds a model from the command line's ``--model`` and
``--init``; ``init`` is `NOT_GIVEN` when the user gave none, and each model then starts
from its own default: nil for registers, "" for kv keys, empty for sets and queues, 0
for counters, a free lock.
"""

from collections.abc import Callable
from typing import Any

from labrys.errors import UsageError, lookup
from labrys.models._counter import Counter
from labrys.models._independent import Independent
from labrys.models._kv import KV
from labrys.models._model import (
    NOT_GIVEN,
    Call,
    Inconsistent,
    Model,
    Part,
    Partitionable,
    State,
    call_from_operation,
    freeze,
    show,
)
from labrys.models._multi_register import MultiRegister
from labrys.models._mutex import Mutex
from labrys.models._queue import FIFOQueue, UnorderedQueue
from labrys.models._register import CASRegister, Register
from labrys.models._set import SetModel

MODELS: dict[str, Callable[..., Model]] = {
    Register.name: Register,
    CASRegister.name: CASRegister,
    KV.name: KV,
    MultiRegister.name: MultiRegister,
    Mutex.name: Mutex,
    SetModel.name: SetModel,
    FIFOQueue.name: FIFOQueue,
    UnorderedQueue.name: UnorderedQueue,
    Counter.name: Counter,
}
"""Every model by the name ``--model`` takes."""


def get_model(name: str | None, init: Any = NOT_GIVEN, *, independent: bool = False) -> Model:
    """The model called ``name``, starting from ``init`` (or its default if NOT_GIVEN);
    with ``independent``, one such object per key of ``[key value]`` values.

    Raises:
        UsageError: no model has that name (the message lists those that do), or the
            model takes no initial value and one was given.
    """
    known = ", ".join(MODELS)
    if name is None:
        raise UsageError(f"this checker needs a model; pass --model, one of: {known}")
    factory = lookup(MODELS, name, what="model")
    if init is NOT_GIVEN:
        model = factory()
    elif name == Mutex.name:
        raise UsageError("the mutex model always starts free; it takes no --init")
    else:
        model = factory(initial=init)
    return Independent(inner=model) if independent else model


__all__ = [
    "KV",
    "MODELS",
    "NOT_GIVEN",
    "CASRegister",
    "Call",
    "Counter",
    "FIFOQueue",
    "Inconsistent",
    "Independent",
    "Model",
    "MultiRegister",
    "Mutex",
    "Part",
    "Partitionable",
    "Register",
    "SetModel",
    "State",
    "UnorderedQueue",
    "call_from_operation",
    "freeze",
    "get_model",
    "show",
]
