"""``labrys serve``: the index, the comparison, and serving files from the store only.

Through Starlette's test client (real requests through the app, no socket); the pages
in a browser are tested in ``tests/browser``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from labrys.checkers import CheckOptions
from labrys.report._serve import create_app, resolve_in_store
from tests.stored_runs import EXAMPLES, example_store, stored_run


@pytest.fixture
def store(tmp_path: Path) -> Path:
    store = tmp_path / "results"
    runs = example_store(store)
    os.symlink(runs["serializable"].relative_to(store), store / "latest")
    return store


def _rows(html: str) -> list[str]:
    return [line.split('data-path="')[1].split('"')[0] for line in html.splitlines()
            if '<tr class="run"' in line]


def test_the_index_lists_every_run_newest_first_with_its_verdict(store):
    page = TestClient(create_app(store)).get("/")
    assert page.status_code == 200
    assert _rows(page.text) == ["etcd-register-serializable/20260103T120000",
                                "etcd-register/20260102T120000",
                                "etcd-register/20260101T120000"]
    assert page.text.count('class="badge verdict-invalid"') == 2
    assert page.text.count('class="badge verdict-valid"') == 1
    assert "nonlinearizable" in page.text


def test_a_run_stored_while_the_server_runs_appears_on_the_next_load(store):
    client = TestClient(create_app(store))
    assert len(_rows(client.get("/").text)) == 3
    stored_run(store, "etcd-register", "20260104T120000", EXAMPLES / "register-valid.jsonl",
               checker="linearizable", options=CheckOptions(model="cas-register"))
    assert _rows(client.get("/").text)[0] == "etcd-register/20260104T120000"


def test_two_runs_side_by_side_mark_the_fields_that_differ(store):
    client = TestClient(create_app(store))
    page = client.get("/compare", params={"a": "etcd-register/20260102T120000",
                                          "b": "etcd-register-serializable/20260103T120000"})
    assert page.status_code == 200
    differing = [line for line in page.text.splitlines() if '<tr class="differs">' in line]
    assert any("options.read_mode" in line for line in differing)
    assert any("nonlinearizable" in line for line in differing)
    assert not any("<th>target</th>" in line for line in differing)
    assert client.get("/compare", params={"a": "nope", "b": "nope"}).status_code == 404


def test_files_of_the_store_are_served_and_a_run_without_a_page_is_drawn_in_memory(store):
    client = TestClient(create_app(store))
    history = client.get("/runs/etcd-register/20260101T120000/history.jsonl")
    assert history.status_code == 200 and history.text.startswith('{"index":0')
    assert client.get("/runs/latest/test.json").status_code == 200  # a link inside the store
    listing = client.get("/runs/etcd-register/20260101T120000/")
    assert 'href="history.jsonl"' in listing.text
    report = client.get("/report/etcd-register/20260101T120000")
    assert report.status_code == 200 and "INVALID" in report.text
    assert 'href="/runs/etcd-register/20260101T120000/history.jsonl"' in report.text
    assert not (store / "etcd-register" / "20260101T120000" / "report.html").exists()


@pytest.mark.parametrize("path", [
    "/runs/../secret.txt", "/runs/%2e%2e/secret.txt", "/runs/etcd-register/../../secret.txt",
    "/runs//etc/passwd", "/runs/%2Fetc%2Fpasswd", "/runs/outside/secret.txt",
    "/runs/etcd-register/20260101T120000/missing.txt", "/report/../results",
])
def test_a_path_that_leaves_the_store_or_names_nothing_is_not_found(store, path):
    (store.parent / "secret.txt").write_text("secret")
    os.symlink(store.parent, store / "outside")
    response = TestClient(create_app(store)).get(path)
    assert response.status_code == 404
    assert "secret" not in response.text


def test_the_server_is_read_only(store):
    client = TestClient(create_app(store))
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/runs/etcd-register/20260101T120000/test.json") \
            .status_code == 405


def test_resolving_inside_the_store_refuses_absolute_paths_and_escapes(tmp_path):
    store = tmp_path / "s"
    (store / "a").mkdir(parents=True)
    (store / "a" / "f").write_text("x")
    assert resolve_in_store(store, "a/f") == (store / "a" / "f").resolve()
    for bad in ("/etc/passwd", "../s/a/f", "a/../../s/a/f", "a\\..\\f"):
        assert resolve_in_store(store, bad) is None
    shutil.rmtree(store / "a")
    assert resolve_in_store(store, "a/f") is None
