"""The screenshots of docs/: each kind of page labrys writes, as a newcomer first sees it.

Takes them with Playwright in Debian's headless chromium (as the browser tests do) from
real pages: the reports of an etcd stale-read run and a Redis lost-writes run, the
report ``labrys check --html`` writes for Elle's paper example and for a Knossos
history, and ``labrys serve`` over the store holding those runs. Run, as root after
``make setup``:

    .venv/bin/labrys run --store /tmp/shots --option read_mode=serializable \\
        --nemesis partition --time-limit 30
    .venv/bin/labrys run --store /tmp/shots --target redis --workload set \\
        --nemesis partition --topologies primaries --time-limit 20 --nemesis-interval 8
    .venv/bin/python scripts/report_screenshots.py /tmp/shots
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chromium import chromium  # noqa: E402
from tests.serve_process import labrys_serve  # noqa: E402

DOCS = ROOT / "docs"
CONFORMANCE = ROOT.parent / "shared" / "conformance"


def _runs(store: Path) -> dict[str, Path]:
    """The newest run of each workload in the store, by the name of its workload."""
    runs: dict[str, Path] = {}
    for results in sorted(store.glob("*/*/results.json")):
        spec = json.loads((results.parent / "test.json").read_text())["spec"]
        runs[spec["workload"]] = results.parent
    return runs


def _unstick(page: object) -> None:
    """The section bar sticks to the top while scrolling; not over a screenshot."""
    page.add_style_tag(content="nav.sections { position: static; }")  # type: ignore[attr-defined]


def _check_page(out: Path, *args: str) -> Path:
    subprocess.run([sys.executable, "-m", "labrys.cli", "check", "--html", str(out), *args],
                   check=False, capture_output=True)
    return out


def main(store: Path) -> None:
    runs = _runs(store)
    with tempfile.TemporaryDirectory() as tmp, chromium(width=1280, height=860) as browser:
        for run in runs.values():
            subprocess.run([sys.executable, "-m", "labrys.cli", "report", str(run)], check=True,
                           capture_output=True)
        page = browser.open((runs["register"] / "report.html").as_uri()).page
        page.screenshot(path=DOCS / "report-verdict-and-plots.png", full_page=False)
        _unstick(page)
        page.click("article.anomaly button.show-ops")
        page.wait_for_timeout(300)
        page.locator("#timeline-section").screenshot(path=DOCS / "report-timeline.png")

        page = browser.open((runs["set"] / "report.html").as_uri()).page
        _unstick(page)
        box = page.locator("article.anomaly").first.bounding_box()
        page.screenshot(path=DOCS / "report-lost-writes.png", full_page=True,
                        clip={**box, "height": min(box["height"], 760)})

        elle = _check_page(Path(tmp) / "elle.html", "--checker", "list-append",
                           str(CONFORMANCE / "elle" / "paper-example.edn"))
        page = browser.open(elle.as_uri()).page
        _unstick(page)
        page.locator("article.anomaly").first.screenshot(path=DOCS / "report-elle-cycle.png")

        knossos = _check_page(Path(tmp) / "knossos.html", "--minimize", "--model",
                              "cas-register", str(ROOT / "labrys" / "examples" /
                                                  "register-stale-read.jsonl"))
        page = browser.open(knossos.as_uri()).page
        _unstick(page)
        page.locator("#anomaly-2").screenshot(path=DOCS / "report-linearization.png")

        with labrys_serve(store) as url:
            page = browser.open(url + "/?verdict=invalid", wait_ready=False).page
            page.screenshot(path=DOCS / "serve-index.png")
            picked = [r.relative_to(store).as_posix() for r in runs.values()][:2]
            page = browser.open(f"{url}/compare?a={picked[0]}&b={picked[1]}",
                                wait_ready=False).page
            page.screenshot(path=DOCS / "serve-compare.png", full_page=True)
    for shot in sorted(DOCS.glob("*.png")):
        print(f"{shot.relative_to(ROOT)}: {shot.stat().st_size:,} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
