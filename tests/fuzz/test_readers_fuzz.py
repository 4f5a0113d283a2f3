"""Every reader survives any file: a value, or one `LabrysError` line, quickly.

The property tests here run a few hundred inputs per reader (a few seconds each), the
bounded slice of what ``make fuzz`` runs for as long as it is given (see
`tests.fuzz.run`). The named cases below them are the nasty files every reader must
survive whatever the random inputs reach: a 1 GB line, nesting a hundred thousand deep,
a million processes, NUL bytes, bytes that are not UTF-8, integers of fifty thousand
digits, NaN. Each is also read through the command line, which must exit 255 with
exactly one line on stderr.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from labrys.errors import LabrysError
from labrys.history import History, read_history
from tests.fuzz.inputs import NASTY_TEXT, inputs_for
from tests.fuzz.readers import READERS, Reader, holds_contract

BOUNDED = settings(max_examples=150, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz_reader(reader: Reader, data: bytes) -> object:
    """One input, in a fresh folder, held to the contract."""
    with tempfile.TemporaryDirectory(prefix="labrys-fuzz-") as folder:
        return holds_contract(reader, data, Path(folder))


@pytest.mark.parametrize("reader", READERS, ids=[r.name for r in READERS])
def test_any_input_gives_a_value_or_one_error_line(reader: Reader) -> None:
    @BOUNDED
    @given(inputs_for(reader.seeds))
    def run(data: bytes) -> None:
        fuzz_reader(reader, data)

    run()


@pytest.mark.parametrize("reader", READERS, ids=[r.name for r in READERS])
@pytest.mark.parametrize("name", sorted(NASTY_TEXT))
def test_nasty_values_in_every_place(reader: Reader, name: str) -> None:
    text = NASTY_TEXT[name]
    places = [
        f'{{"type":"invoke","process":0,"f":"read","value":{text}}}',
        f'{{"type":"invoke","process":0,"f":"read","time":{text}}}',
        f"{{:type :invoke, :process 0, :f :read, :value {text}}}",
        f"[{{:type :invoke, :process {text}, :f :read}}]",
        f"INFO  jepsen.util - 0 :invoke :read {text}",
        f"time_limit = {text}",
        f'{{"spec": {{"seed": {text}}}}}',
        text,
    ]
    for place in places:
        fuzz_reader(reader, place.encode("utf-8", "surrogatepass"))


# -- the huge cases, read without ever holding them -----------------------------------


def _sparse(path: Path, head: bytes, size: int) -> Path:
    """A file of ``size`` bytes: ``head``, then NULs that take no disk (a sparse file)."""
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path


GIB = 1 << 30


FROM_FILES = [r for r in READERS if not r.in_memory]


@pytest.mark.parametrize("reader", FROM_FILES, ids=[r.name for r in FROM_FILES])
def test_a_one_gigabyte_line_is_refused_without_reading_it_whole(
        reader: Reader, tmp_path: Path) -> None:
    path = _sparse(tmp_path / f"huge{reader.suffix}", b'{"type":"invoke","value":"', GIB)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(LabrysError) as caught:
        reader.read(path)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 256, f"{reader.name} took {grown_mib:.0f} MiB more to refuse it"
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 1000


@pytest.mark.slow
def test_a_million_processes_each_with_an_op_in_flight_read(tmp_path: Path) -> None:
    path = tmp_path / "million.jsonl"
    path.write_text("".join(f'{{"type":"invoke","process":{p},"f":"read"}}\n'
                            for p in range(1_000_000)))
    history = read_history(path)
    assert isinstance(history, History) and len(history) == 1_000_000
    assert len(history.by_process()) == 1_000_000


# -- through the command line ----------------------------------------------------------

BAD_FILES = {
    "invalid-utf8.jsonl": b'{"type":"invoke","process":0,"f":"read"}\n\xff\xfe\n',
    "nul.edn": b"{:type :invoke, :process 0, :f :read}\n\x00\x00",
    "nan-time.jsonl": b'{"type":"invoke","process":0,"f":"read","time":NaN}\n',
    "huge-integer.jsonl": b'{"type":"invoke","process":' + b"9" * 50_000 + b',"f":"read"}\n',
    "deep.edn": b"[" * 100_000 + b"]" * 100_000,
    "deep.json": b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]",
    "truncated.edn": b"[{:type :invoke, :process 0, :f :read",
    "binary.jsonl": bytes(range(256)),
    "lone-surrogate.jsonl": b'{"type":"invoke","process":0,"f":"write","value":"\\ud800"}\n'
                            b'{"type":"ok","process":0,"f":"write","value":"\\ud800"}\n',
}


def _labrys(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "labrys.cli", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_labrys_check_on_a_bad_file_exits_255_with_one_line(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    done = _labrys("check", "--checker", "linearizable", str(path))
    assert done.returncode == 255, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("labrys: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.slow
def test_labrys_check_on_a_one_gigabyte_line_exits_255_in_bounded_memory(
        tmp_path: Path) -> None:
    path = _sparse(tmp_path / "huge.jsonl", b'{"type":"invoke","value":"', GIB)
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
    done = subprocess.run(
        [sys.executable, "-c", limit + "from labrys.cli import main; main()",
         "check", "--checker", "stats", str(path)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 255, done.stderr[-2000:]
    assert done.stderr.count("\n") == 1, done.stderr[-2000:]


def test_the_registry_covers_every_history_format() -> None:
    from labrys.history import FORMATS

    names = {r.name for r in READERS}
    assert {f"history-{f}" for f in FORMATS} <= names
    assert {"history", "history-text", "spec-toml", "spec-test-json"} <= names
    assert json.loads(json.dumps(sorted(names)))  # names are plain text
