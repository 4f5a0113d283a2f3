"""A clean list-append history, recognised by the native core before Elle's full check.

Most histories a database produces are valid, and proving that there is nothing to
report is most of the transactional checker's work: tens of thousands of transactions
parsed, indexed and linked in Python only to find no anomaly and no cycle. The native
core (``native/src/txn.rs``) does the same inference on the history's columns and says
whether there is *anything*: a transaction the rules of `labrys.checkers._txn_history`
refuse, a read no correct execution could give, or a cycle of dependencies among the
orders the claims need. If there is nothing, the verdict is "valid, nothing found",
which `labrys.checkers._txn` writes exactly as it would have; if there may be, the core
says so and the Python checker does the whole work, finding, explaining or refusing.
So the core decides nothing it could get wrong: at worst it costs the time it took.

A history read by the native reader has columns; of one built in Python (by the
harness, a test) the core reads the ops themselves, only the fields it needs.
"""

from __future__ import annotations

from labrys._native import native_module
from labrys.history import History


def clean_list_append(history: History, order: int) -> int | None:
    """The number of transactions of ``history`` if it has nothing to report, else None.

    Args:
        history: a list-append history.
        order: the order edges the claimed models need: 0, `_txn_graph.PROCESS` or
            `_txn_graph.REALTIME`.
    """
    core = native_module()
    if core is None:
        return None
    columns = history.native()
    if columns is None:
        return core.clean_list_append_ops(list(history), history.partners(), order)
    return columns.clean_list_append(order)
