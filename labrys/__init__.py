"""labrys: test what distributed databases promise.

Start a real cluster, drive it with concurrent clients under real faults, record the
history, and check it against consistency models. The command line (`labrys.cli`) is
the main interface; the subpackages are the library:

- `labrys.history`: ops, histories, formats;
- `labrys.models`: sequential specifications for linearizability;
- `labrys.checkers`: verdicts and every checker;
- `labrys.control`, `labrys.nemesis`: nodes, networks and faults;
- `labrys.targets`, `labrys.workloads`, `labrys.harness`: databases, workloads, runs;
- `labrys.report`: how verdicts and runs are shown: terminal, HTML report, `serve`.
"""
