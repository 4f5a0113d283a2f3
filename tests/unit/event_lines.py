"""Literal histories for the search-engine tests, one event a line.

``history("0 invoke write 1", "0 ok write 1")``: each line is
``"<process> <type> <f> <value as JSON>"``, and an op's index is its line number. A
process that is not a number (``nemesis``) is a name.
"""

import json

from labrys.history import History, parse_history


def history(*events: str) -> History:
    """The history the event lines describe, validated as any history is."""
    records = []
    for event in events:
        process, kind, f, value = event.split(None, 3)
        records.append({"process": int(process) if process.isdigit() else process,
                        "type": kind, "f": f,
                        "value": json.loads(value)})
    return parse_history("\n".join(json.dumps(r) for r in records))
