"""Readers, the format guess, and the exporter to Jepsen EDN."""

import pytest

from labrys.errors import HistoryError, UsageError
from labrys.history import (
    FORMATS,
    OpType,
    _limits,
    detect_format,
    parse_history,
    read_history,
    write_jepsen_edn,
    write_jsonl,
)


@pytest.mark.parametrize("head, expected", [
    ('{"type":"invoke","process":0}', "jsonl"),
    ('[{"type":"invoke","f":"read"}]', "elle-cli-json"),
    ("{:type :invoke, :f :read}", "jepsen-edn"),
    ("; comment\n[{:type :invoke}]", "jepsen-edn"),
    ("({:type :invoke})", "jepsen-edn"),
    ('{:process 0, :type :invoke, :f :get, :key "1", :value nil}', "porcupine-kv"),
    ("INFO  jepsen.util - 0\t:invoke\t:read\tnil", "porcupine-etcd"),
])
def test_detect_format(head, expected):
    assert detect_format(head) == expected


def test_unrecognisable_text_asks_for_format():
    with pytest.raises(HistoryError, match="pass --format"):
        detect_format("hello")


def test_porcupine_etcd_log_reads_timed_out_reads_as_info():
    h = parse_history(
        "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\n"
        "INFO  jepsen.util - 1   :invoke :read   nil\n"
        "INFO  jepsen.util - 0\t:ok\t:cas\t[1 2]\n"
        "INFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n"
    )
    cas, read = h.operations()
    assert (cas.f, cas.type, cas.value) == ("cas", OpType.OK, [1, 2])
    assert (read.f, read.type) == ("read", OpType.INFO)


def test_porcupine_kv_moves_the_key_into_the_value():
    h = parse_history('{:process 3, :type :invoke, :f :put, :key "2", :value "x 3 1 y"}\n'
                      '{:process 3, :type :ok, :f :put, :key "2", :value "x 3 1 y"}\n')
    assert h.operations()[0].value == ["2", "x 3 1 y"]


def test_elle_cli_json_array():
    h = parse_history('[{"type":"invoke","f":"txn","value":[["append",1,2]],"process":0},'
                      '{"type":"ok","f":"txn","value":[["append",1,2]],"process":0}]')
    assert h.operations()[0].value == [["append", 1, 2]]


def test_read_history_names_the_file_and_line(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"type":"invoke","process":0,"f":"read"}\nnot json\n')
    with pytest.raises(HistoryError) as e:
        read_history(path)
    assert str(e.value).startswith(f"{path}:line 2")


def test_missing_file_and_unknown_format_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such history file"):
        read_history(tmp_path / "absent.jsonl")
    (tmp_path / "h").write_text("")
    with pytest.raises(UsageError, match="unknown history format 'xml'"):
        read_history(tmp_path / "h", format="xml")


def test_edn_export_reads_back_as_the_same_history(tmp_path):
    original = parse_history(
        '{"type":"invoke","process":0,"f":"txn","value":[["append","x",1],["r","y",null]],'
        '"time":5}\n'
        '{"type":"ok","process":0,"f":"txn","value":[["append","x",1],["r","y",[1,2]]],'
        '"time":9,"node":"n1"}\n'
        '{"type":"invoke","process":"nemesis","f":"kill","value":"n2","time":10}\n'
        '{"type":"info","process":"nemesis","f":"kill","value":{"n2":"killed"},"time":11}\n'
        '{"type":"invoke","process":1,"f":"put","value":["k","x 1 y"],"time":12}\n')
    path = tmp_path / "h.edn"
    write_jepsen_edn(original, path)
    text = path.read_text()
    assert ":f :txn" in text and "[:append" in text and ':process :nemesis' in text
    again = read_history(path)
    assert [op.to_json() for op in again] == [op.to_json() for op in original]


def test_jsonl_round_trip(tmp_path):
    original = parse_history('{"type":"invoke","process":0,"f":"read","error":"x"}\n')
    write_jsonl(original, tmp_path / "h.jsonl")
    assert [op.to_json() for op in read_history(tmp_path / "h.jsonl")] == [
        op.to_json() for op in original]


# -- found by fuzzing (tests/fuzz): each case once made a reader fail its contract ------


@pytest.mark.parametrize("text", [
    '{"type":"invoke","process":0,"f":"read","time":"' + "x" * 20_000 + '"}',
    '{"type":"' + "x" * 20_000 + '","process":0,"f":"read"}',
    '{:process 0, :type :invoke, :f :read, :key 1, :value 1}\n[' + "1 " * 20_000 + "]",
    '{"type":"invoke","process":0,"f":"' + "r" * 20_000 + '"}\n'
    '{"type":"ok","process":0,"f":"read"}',
])
def test_a_huge_value_in_an_error_is_shown_cut_short(text):
    with pytest.raises(HistoryError) as e:
        parse_history(text)
    assert len(str(e.value)) < 400 and "\n" not in str(e.value)


@pytest.mark.parametrize("text", [
    '{"type":"invoke","process":0,"f":"read","value":' + "[" * 5_000 + "]" * 5_000 + "}",
    '{"type":"invoke","process":0,"f":"read","value":' + "[" * 101 + "]" * 101 + "}",
    "[" + "[" * 5_000 + "]" * 5_000 + "]",
    "{:type :invoke, :process 0, :f :read, :value " + "[" * 100_000 + "]" * 100_000 + "}",
    "[{:type :invoke, :process 0, :f " + "{:a " * 101 + "1" + "}" * 101 + "}]",
])
def test_values_nested_past_the_limit_are_refused_in_one_line(text):
    with pytest.raises(HistoryError, match="nested more than 100 levels deep"):
        parse_history(text)


def test_values_nested_up_to_the_limit_are_read():
    deep = "[" * 99 + "1" + "]" * 99
    for text in (f'{{"type":"invoke","process":0,"f":"read","value":{deep}}}',
                 f"{{:type :invoke, :process 0, :f :read, :value {deep}}}"):
        assert parse_history(text)[0].value is not None


@pytest.mark.parametrize("text", [
    '{"type":"invoke","process":' + "9" * 5_000 + ',"f":"read"}',
    '[{"type":"invoke","process":0,"f":"read","value":' + "9" * 5_000 + "}]",
    "{:type :invoke, :process 0, :f :read, :value " + "9" * 5_000 + "}",
    "INFO  jepsen.util - 0 :invoke :read " + "9" * 5_000 + "N",
])
def test_integers_of_more_than_4300_digits_are_refused_in_one_line(text):
    with pytest.raises(HistoryError, match="has more than 4300 digits"):
        parse_history(text)


@pytest.mark.parametrize("time", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_time_that_is_no_finite_number_is_refused_in_one_line(time):
    # Found by fuzzing: int(nan) raised ValueError and int(inf) OverflowError.
    with pytest.raises(HistoryError, match="time must be a number of nanoseconds, got"):
        parse_history(f'{{"type":"invoke","process":0,"f":"read","time":{time}}}')


def _sparse_file(path, head: bytes, size: int):
    """``head`` then NULs up to ``size`` bytes, taking no disk (a sparse file)."""
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)
    return path


@pytest.mark.parametrize("format", [None, *FORMATS])
def test_a_line_past_the_limit_is_refused_having_read_only_the_limit(
        tmp_path, monkeypatch, format):
    # Found by fuzzing: a 1 GB line was read whole (and parsed) before anything was said.
    # The limit is lowered to 1 MiB so that the test reads 1 MiB of the 1 GiB, not 64.
    monkeypatch.setattr(_limits, "MAX_LINE_CHARS", 1 << 20)
    path = _sparse_file(tmp_path / "huge", b'{"type":"invoke","value":"', 1 << 30)
    reads = []
    real_open = type(path).open

    def counting_open(self, *args, **kwargs):
        f = real_open(self, *args, **kwargs)
        real_read, real_readline = f.read, f.readline
        f.read = lambda n=-1: reads.append(n) or real_read(n)
        f.readline = lambda n=-1: reads.append(n) or real_readline(n)
        return f

    monkeypatch.setattr(type(path), "open", counting_open)
    with pytest.raises(HistoryError, match="line 1: this line is longer than 1 MiB"):
        read_history(path, format=format)
    assert -1 not in reads and sum(reads) < 4 << 20


def test_lines_up_to_the_limit_are_read(tmp_path, monkeypatch):
    monkeypatch.setattr(_limits, "MAX_LINE_CHARS", 100)
    lines = [f'{{"type":"invoke","process":{p},"f":"read","value":"{"x" * 40}"}}'
             for p in range(3)]
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(lines))
    assert len(read_history(path)) == 3
    path.write_text("[" + ",\n".join(lines[:2]) + "]\n")
    assert len(read_history(path, format="elle-cli-json")) == 2


@pytest.mark.parametrize("text", [
    '{"type":"invoke","process":0,"f":"write","value":"\\ud800"}',
    '[{"type":"invoke","process":0,"f":"write","value":{"\\udfff":1}}]',
    '{:type :invoke, :process 0, :f :write, :value "\\ud83d"}',
    "{:type :invoke, :process 0, :f :write, :value \\ud800}",
])
def test_half_a_surrogate_pair_is_refused_in_one_line(text):
    # Found by fuzzing through the command line: such a string read as a value, then
    # crashed `labrys check` printing it (UTF-8 cannot encode it).
    with pytest.raises(HistoryError, match="half of a UTF-16 surrogate pair"):
        parse_history(text)


def test_escapes_of_a_whole_surrogate_pair_read_as_one_character():
    for text in ('{"type":"invoke","process":0,"f":"write","value":"\\ud83d\\ude00"}',
                 '{:type :invoke, :process 0, :f :write, :value "\\ud83d\\ude00"}'):
        assert parse_history(text)[0].value == "\U0001f600"


@pytest.mark.parametrize("text", [
    "INFO  jepsen.util - \udc80one :info :partition nil",
    '{"type":"invoke","process":0,"f":"write","value":"\ud800"}',
])
def test_text_holding_half_a_surrogate_pair_is_refused_in_one_line(text):
    # Found by fuzzing: text a caller decoded leniently (invalid bytes as surrogates)
    # passed into a Porcupine log's process name.
    with pytest.raises(HistoryError, match="line 1: a string holds half of a UTF-16"):
        parse_history(text)
