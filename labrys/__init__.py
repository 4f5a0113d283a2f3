"""labrys: test what distributed databases promise.

Start a real cluster, drive it with concurrent clients under real faults, record the
history, and check it against consistency models. The command line (`labrys.cli`) is
the main interface; the subpackages are the library:

- `labrys.history`: ops, histories, formats;
- `labrys.models`: sequential specifications for linearizability;
- `labrys.checkers`: verdicts and every checker;
- `labrys.generator`, `labrys.client`, `labrys.options`: schedules of operations, what
  a client returns, option tables;
- `labrys.control`, `labrys.nemesis`: nodes, networks and faults;
- `labrys.targets`, `labrys.workloads`: databases and what clients do to them;
- `labrys.harness`: runs (spec, runner, interpreter, store, commands);
- `labrys.report`: how verdicts and runs are shown: terminal, HTML report, `serve`.
"""
