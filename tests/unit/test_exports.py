"""The public surface of each subpackage, pinned (trio's test_exports).

A name added to or removed from an ``__all__`` is an API change: this test makes it a
deliberate one. Every exported name must also exist.
"""

import importlib

import pytest

PUBLIC = {
    "labrys.history": {
        "FORMATS", "NEMESIS", "History", "JsonlWriter", "Op", "OpType", "Operation",
        "Process", "detect_format", "dumps_op", "op_from_dict", "op_to_edn",
        "parse_history", "read_history", "write_jepsen_edn", "write_jsonl",
    },
    "labrys.checkers": {
        "CHECKERS", "NOT_GIVEN", "TXN_MODELS", "UNKNOWN", "UNKNOWN_KINDS", "Anomaly",
        "CheckOptions", "CheckerEntry", "OnlineCheck", "OnlineChecker", "OnlineFinding",
        "Validity", "Verdict", "check_safe", "compose", "exit_status", "get_checker",
        "implied_anomalies", "impossible_models", "make_online_checker", "online_check",
        "prohibited_anomalies", "run_checker", "stronger_models", "worst",
    },
    "labrys.report": {
        "REPORT_NAME", "RawFile", "ReportSource", "for_check", "load_run", "print_verdict",
        "render_report", "verdict_word", "write_report", "write_run_report",
    },
    "labrys.models": {
        "CASRegister", "Call", "Counter", "FIFOQueue", "Inconsistent", "Independent", "KV",
        "MODELS", "Model", "MultiRegister", "Mutex", "NOT_GIVEN", "Part", "Partitionable",
        "Register", "SetModel", "State", "UnorderedQueue", "call_from_operation", "freeze",
        "get_model", "partitionable", "show",
    },
    "labrys.control": {
        "BASE_DIR", "Cluster", "ClusterSummary", "CommandResult", "DownReport",
        "FirewalledCluster", "Grudge", "Guardian", "Handle", "LazyDisk", "LazyDisks",
        "Leftovers", "LocalCluster", "LocalNode", "LocalRuntime", "NetworkFaults", "Node",
        "NodeProcess", "Process", "RUNTIMES", "Runtime", "Unsynced", "deferred_signals",
        "down", "exit_on_signals", "get_runtime", "kill_command", "leftovers", "local_cluster",
    },
    "labrys.nemesis": {
        "ClockNemesis", "ClockSkewable", "Composed", "FAULTS", "Fault", "Grudge", "KillNemesis",
        "Killable", "LoseUnsyncedNemesis", "MemberNemesis", "Membership", "NODE_SPECS",
        "Nemesis", "NemesisOp", "NemesisOptions",
        "Package", "PacketNemesis", "PartitionNemesis", "Pausable", "PauseNemesis", "Primaries",
        "TOPOLOGIES", "bisect", "bridge", "complete_grudge", "compose", "faketime_env",
        "grudge_from_spec", "grudge_to_json", "majorities_ring", "majority", "minority_third",
        "package", "parse_components", "select_nodes",
    },
    "labrys.generator": {
        "Context", "DONE", "Generator", "Invocation", "PENDING", "Step", "Thread", "any_of",
        "clients", "cycle", "each_process", "flip_flop", "from_fn", "independent_keys", "limit",
        "mix", "nemesis", "once", "phases", "repeat", "reserve", "seq", "sleep", "stagger",
        "synchronize", "time_limit",
    },
    "labrys.client": {"Client", "Completion", "validate_completion"},
    "labrys.options": {
        "Option", "boolean", "check_known", "choice", "parse_options", "positive_float",
        "positive_int",
    },
    "labrys.harness": {
        "Client", "Completion", "Context", "DONE", "Generator", "Interpreter", "Invocation",
        "Option", "PENDING", "Progress", "RunDir", "RunSummary", "Step", "TestSpec", "Thread",
        "any_of", "build_spec", "check_known", "choice", "clients", "create_run_dir", "cycle",
        "each_process", "flip_flop", "from_fn", "independent_keys", "limit", "load_spec_file",
        "mix", "nemesis", "once", "parse_options", "phases", "repeat", "reserve", "seq",
        "sleep", "stagger", "synchronize", "time_limit", "validate_completion",
    },
    "labrys.targets": {
        "ClientSource", "HasLogs", "HasVersion", "TARGETS", "Target", "TargetEntry",
        "get_target", "node_packages",
    },
    "labrys.workloads": {
        "HasFinalGenerator", "HasOnlineCheck", "WORKLOADS", "Workload", "WorkloadEntry",
        "get_workload",
    },
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_pinned_and_exist(module):
    mod = importlib.import_module(module)
    assert set(mod.__all__) == PUBLIC[module]
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} is exported but missing"


def test_every_registered_checker_resolves_to_a_function():
    from labrys.checkers import CHECKERS

    for entry in CHECKERS.values():
        assert callable(entry.load()), entry.name
