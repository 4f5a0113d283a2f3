"""The project stands alone: nothing in it sends the reader to notes kept outside it.

The design map, style guide and platform notes its authors worked from live beside the
repository, not in it; whatever of them matters is said in the code or under ``docs/``
(``docs/platform.md``). A reference to one of those files would point at nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
OUTSIDE_NOTES = re.compile("(PLATFORM|STYLE|DESIGN)" + r"\.md")


def test_no_file_refers_to_notes_outside_the_repository():
    files = [ROOT / "README.md", *ROOT.glob("docs/**/*.md")]
    for folder in ("labrys", "bench", "scripts", "tests"):
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md", ".sh")]
    found = [f"{path.relative_to(ROOT)}:{n}" for path in files
             for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if OUTSIDE_NOTES.search(line)]
    assert found == []
