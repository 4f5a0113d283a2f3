"""Reports: how verdicts and runs are shown to people.

For now, the terminal: `print_verdict` renders a `Verdict` with rich. The HTML report
of a run (timeline, plots, cycle pictures) will live here too.
"""

from labrys.report._terminal import print_verdict, verdict_word

__all__ = ["print_verdict", "verdict_word"]
