"""Suites: many tests, each with what it must show, for nightly CI.

The problem. One ``labrys run`` answers one question. A CI job asks many every night
(does every target still pass under faults? does the known Redis lost-writes bug
still reproduce?) and needs one exit status, a JUnit file, and a way to see what
changed since yesterday. A suite is a TOML file of test specs, in the format ``labrys
run`` reads, with a matrix to expand and an expectation per test (``_file``); running
it (``_run``) runs every test with every seed and judges each run against its
expectation (``_judge``); the results are written as a terminal table,
``summary.json``, ``summary.md`` and JUnit XML (``_report``); stored summaries give
trends (``_trend``).

Example:
    >>> suite = load_suite_file(Path("suites/smoke.toml"))   # doctest: +SKIP
    >>> [t.name for t in suite.tests]                          # doctest: +SKIP
    ['etcd-register', 'redis-set-lost-writes', ...]
"""


from labrys.suite._cli import execute_suite, output_console, suite
from labrys.suite._file import Expect, Expectation, Suite, SuiteTest, load_suite_file
from labrys.suite._judge import Outcome, judge
from labrys.suite._report import print_summary, summary_data, write_junit, write_summary
from labrys.suite._run import Result, SuiteRun, run_suite
from labrys.suite._trend import Trend, load_trend, print_trend

__all__ = [
    "Expect",
    "Expectation",
    "Outcome",
    "Result",
    "Suite",
    "SuiteRun",
    "SuiteTest",
    "Trend",
    "execute_suite",
    "judge",
    "load_suite_file",
    "load_trend",
    "output_console",
    "print_summary",
    "print_trend",
    "run_suite",
    "suite",
    "summary_data",
    "write_junit",
    "write_summary",
]
