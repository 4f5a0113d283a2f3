"""How verdicts read on a terminal."""

from rich.console import Console

from labrys.checkers import Anomaly, Verdict, compose
from labrys.report import print_verdict


def render(verdict: Verdict) -> str:
    console = Console(record=True, width=200, color_system=None)
    print_verdict(console, verdict, title="h.jsonl")
    return console.export_text()


def test_a_search_anomaly_shows_its_order_and_failed_candidates():
    anomaly = Anomaly(kind="nonlinearizable", ops=(0, 2), explanation="Op 2 cannot go.", data={
        "linearization": [{"op": 0, "process": 0, "description": "write 1", "state": "1"}],
        "candidates": [{"op": 2, "process": 1, "description": "read → nil",
                        "reason": "read returned nil, but the register held 1"}]})
    text = render(Verdict(checker="linearizable", valid=False, explanation="Op 2 cannot go.",
                          anomalies=(anomaly,)))
    assert text.splitlines() == [
        "h.jsonl: linearizable INVALID",
        "Op 2 cannot go.",
        "  • nonlinearizable (ops 0, 2)",
        "    longest order found:",
        "      op 0      process 0     write 1                      → state 1",
        "    ✗ op 2 (read → nil): read returned nil, but the register held 1",
    ]


def test_a_composed_verdict_lists_children_and_explains_the_bad_ones():
    good = Verdict(checker="stats", valid=True, explanation="fine")
    bad = Verdict(checker="set", valid=False, explanation="2 lost.",
                  anomalies=(Anomaly(kind="lost", ops=(4,), explanation="4 was lost."),))
    text = render(compose([good, bad]))
    assert text.splitlines() == [
        "h.jsonl: composed INVALID",
        "  stats valid",
        "  set INVALID",
        "2 lost.",
        "  • lost (ops 4): 4 was lost.",
    ]


def test_long_anomaly_lists_are_cut_with_a_count():
    anomalies = tuple(Anomaly(kind="lost", ops=(i,), explanation=f"{i} lost") for i in range(13))
    text = render(Verdict(checker="set", valid=False, anomalies=anomalies))
    assert text.splitlines()[-1] == "  … and 3 more anomalies (all of them are in --json)"


def test_after_a_run_the_cut_anomalies_are_pointed_to_in_results_json():
    anomalies = tuple(Anomaly(kind="lost", ops=(i,), explanation=f"{i} lost") for i in range(11))
    console = Console(record=True, width=200, color_system=None)
    print_verdict(console, Verdict(checker="set", valid=False, anomalies=anomalies),
                  title="verdict", everything_in="results/x/1/results.json")
    assert console.export_text().splitlines()[-1] == (
        "  … and 1 more anomalies (all of them are in results/x/1/results.json)")
