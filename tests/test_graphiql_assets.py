"""GraphiQL without a CDN: the assets are downloaded from npm once, verified against pinned
hashes, and the page loads only them (test_graphiql_browser.py runs it in Chromium)."""

from __future__ import annotations

import dataclasses
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from alma_graph.api import graphiql
from alma_graph.api.graphiql import (ASSET_FILES, AssetInstallError, assets_installed, graphiql_page, install_assets,
                                     missing_assets_page)



@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The assets, downloaded once for the module from the npm registry."""
    return install_assets(tmp_path_factory.mktemp("assets") / "graphiql")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("no download expected")
    monkeypatch.setattr(graphiql.urllib.request, "urlopen", refuse)


# --- install ---------------------------------------------------------------------------------

def test_install_puts_the_pinned_files_in_place_and_records_them(installed: Path):
    assert sorted(p.name for p in installed.iterdir()) == sorted([*ASSET_FILES, graphiql.MANIFEST])
    assert assets_installed(installed)
    assert b"createFetcher" in (installed / "graphiql.min.js").read_bytes()
    assert not list(installed.parent.glob(".graphiql.*")), "no staging folders left behind"


def test_a_second_install_is_a_no_op(installed: Path, offline: None):
    before = {name: (installed / name).stat().st_mtime_ns for name in ASSET_FILES}
    assert install_assets(installed) == installed
    assert before == {name: (installed / name).stat().st_mtime_ns for name in ASSET_FILES}


def test_a_corrupted_file_is_detected_and_reinstalled(installed: Path, tmp_path: Path):
    copy = shutil.copytree(installed, tmp_path / "graphiql")
    script = copy / "graphiql.min.js"
    script.write_bytes(script.read_bytes().replace(b"createFetcher", b"createFetchez", 1))
    assert not assets_installed(copy)
    install_assets(copy)
    assert assets_installed(copy)
    assert script.read_bytes() == (installed / "graphiql.min.js").read_bytes()


def test_a_missing_file_means_not_installed(installed: Path, tmp_path: Path):
    copy = shutil.copytree(installed, tmp_path / "graphiql")
    (copy / "react.production.min.js").unlink()
    assert not assets_installed(copy)
    assert not assets_installed(tmp_path / "nowhere")


def test_a_tarball_that_does_not_match_its_integrity_is_refused(monkeypatch, tmp_path: Path):
    real_get = graphiql._get

    def tampered(url: str, package):
        data = real_get(url, package)
        return data[:-1] + bytes([data[-1] ^ 1]) if url.endswith(".tgz") else data
    monkeypatch.setattr(graphiql, "_get", tampered)
    with pytest.raises(AssetInstallError, match=r"react@18\.3\.1: integrity check failed"):
        install_assets(tmp_path / "graphiql")
    assert list(tmp_path.iterdir()) == []


def test_a_registry_that_disagrees_with_the_pinned_integrity_is_refused(monkeypatch, tmp_path: Path):
    wrong = dataclasses.replace(graphiql.PACKAGES[0], integrity="sha512-" + "A" * 86 + "==")
    monkeypatch.setattr(graphiql, "PACKAGES", (wrong, *graphiql.PACKAGES[1:]))
    with pytest.raises(AssetInstallError, match=r"react@18\.3\.1: the registry's integrity .* differs"):
        install_assets(tmp_path / "graphiql")


def test_an_unreachable_registry_names_the_package(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(graphiql, "NPM_REGISTRY", "http://127.0.0.1:9")  # the discard port: refused
    with pytest.raises(AssetInstallError, match=r"cannot download react@18\.3\.1 from http://127\.0\.0\.1:9/"):
        install_assets(tmp_path / "graphiql")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_ours_is_never_replaced(tmp_path: Path, offline: None):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(AssetInstallError, match="not a GraphiQL assets folder"):
        install_assets(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_default_folder_follows_alma_graph_assets(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("ALMA_GRAPH_ASSETS", str(tmp_path / "assets"))
    assert graphiql.assets_directory() == tmp_path / "assets"
    monkeypatch.delenv("ALMA_GRAPH_ASSETS")
    assert graphiql.assets_directory().name == f"graphiql-{graphiql.GRAPHIQL_VERSION}"


def test_the_cli_installs_into_the_given_folder(installed: Path, offline: None, capsys):
    assert graphiql.main(["install", "--dir", str(installed)]) == 0
    assert str(installed) in capsys.readouterr().out


# --- the page --------------------------------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_the_page_loads_only_the_local_assets():
    page = graphiql_page("/graphql", "/graphql/assets/", "/graphql")
    links = _Links()
    links.feed(page)
    assert sorted(links.urls) == sorted(["data:,", *(f"/graphql/assets/{name}" for name in ASSET_FILES)])
    assert "://" not in page and "cdn" not in page.lower()


def test_endpoints_cannot_break_out_of_the_script():
    page = graphiql_page("/x</script><script>alert(1)//", "/assets", None)
    assert "</script><script>alert" not in page
    assert 'src="/assets/graphiql.min.js"' in page


def test_the_missing_assets_page_gives_the_install_command():
    assert graphiql.install_command() in missing_assets_page()
    assert "alma_graph.api.graphiql install" in graphiql.install_command()
