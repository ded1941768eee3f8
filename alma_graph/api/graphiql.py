"""GraphiQL served from local files: no CDN at page load, so the IDE works air-gapped.

The browser assets (GraphiQL's UMD build and the React 18 it runs on) are not committed: the
project's set-up (`make install`, or `alma-graph assets install`) downloads them once from the npm
registry, checks each tarball against the sha512 pinned below, and keeps only the four files the
page loads, in `assets_directory()`.

    python -m alma_graph.api.graphiql install [--dir DIR]

GraphiQL 3.9's UMD build bundles graphql-ws, so `createFetcher({subscriptionUrl})` handles
subscriptions over the graphql-transport-ws protocol without another script.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import http.client
import io
import json
import os
import shlex
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import AlmaGraphError

GRAPHIQL_VERSION = "3.9.0"
# A mirror (Artifactory, Verdaccio) for sites without npmjs.org; the pinned hashes still apply.
NPM_REGISTRY = os.environ.get("ALMA_GRAPH_NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")
MANIFEST = "manifest.json"
TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class NpmPackage:
    name: str
    version: str
    integrity: str  # npm's `dist.integrity`, pinned: a changed tarball is refused, not trusted
    files: dict[str, str]  # path inside the tarball -> file name in the assets directory


# GraphiQL 3.x is the last major with a UMD build (4.x+ ship ES modules only); React 18 is the
# newest React with UMD builds and is within GraphiQL 3's peer range.
PACKAGES = (
    NpmPackage("react", "18.3.1",
               "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
               {"package/umd/react.production.min.js": "react.production.min.js"}),
    NpmPackage("react-dom", "18.3.1",
               "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
               {"package/umd/react-dom.production.min.js": "react-dom.production.min.js"}),
    NpmPackage("graphiql", GRAPHIQL_VERSION,
               "sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA==",
               {"package/graphiql.min.js": "graphiql.min.js", "package/graphiql.min.css": "graphiql.min.css"}),
)
# What a server may serve from the assets directory, in the order the page loads the scripts.
ASSET_FILES = tuple(name for package in PACKAGES for name in package.files.values())


class AssetInstallError(AlmaGraphError):
    """The GraphiQL assets could not be downloaded, verified or written."""


def assets_directory() -> Path:
    """`$ALMA_GRAPH_ASSETS` if set, else a per-user cache folder named after the GraphiQL version."""
    if configured := os.environ.get("ALMA_GRAPH_ASSETS"):
        return Path(configured).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "alma-graph" / f"graphiql-{GRAPHIQL_VERSION}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pinned() -> dict[str, str]:
    return {package.name: package.version for package in PACKAGES}


def assets_installed(directory: Path | str | None = None) -> bool:
    """True if every asset is present, from the pinned versions, and unchanged since install."""
    folder = Path(directory) if directory is not None else assets_directory()
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return (manifest["packages"] == _pinned() and set(manifest["files"]) == set(ASSET_FILES)
                and all(_sha256((folder / name).read_bytes()) == digest
                        for name, digest in manifest["files"].items()))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _get(url: str, package: NpmPackage) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            return response.read()
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", error)
        raise AssetInstallError(f"cannot download {package.name}@{package.version} from {url}: {reason}") from error


def _tarball(package: NpmPackage) -> bytes:
    """The package's tarball, checked against the pinned sha512."""
    url = f"{NPM_REGISTRY}/{package.name}/{package.version}"
    try:
        dist = json.loads(_get(url, package))["dist"]
    except (ValueError, KeyError, TypeError) as error:
        raise AssetInstallError(f"{package.name}@{package.version}: {url} is not npm package metadata") from error
    if dist.get("integrity") != package.integrity:
        raise AssetInstallError(f"{package.name}@{package.version}: the registry's integrity "
                                f"{dist.get('integrity')!r} differs from the pinned {package.integrity!r}")
    data = _get(dist["tarball"], package)
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise AssetInstallError(f"{package.name}@{package.version}: integrity check failed for "
                                f"{dist['tarball']} (got {algorithm}-{actual})")
    return data


def _extract(package: NpmPackage, data: bytes, folder: Path) -> dict[str, str]:
    # Only the named regular files are read and written under our own names, so a hostile
    # tarball cannot place anything outside `folder`.
    digests = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member_name, name in package.files.items():
            try:
                member = tar.getmember(member_name)
                content = tar.extractfile(member).read() if member.isfile() else None
            except KeyError:
                content = None
            if content is None:
                raise AssetInstallError(f"{package.name}@{package.version}: {member_name} is not in the tarball")
            (folder / name).write_bytes(content)
            digests[name] = _sha256(content)
    return digests


def _replace(target: Path, staged: Path) -> None:
    """Move the fully written `staged` folder to `target`, so readers never see half an install."""
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
        target.rename(old / "assets")
        staged.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staged.rename(target)


def install_assets(directory: Path | str | None = None) -> Path:
    """Download, verify and install the GraphiQL assets; a no-op when they are already installed.

    >>> install_assets()  # doctest: +SKIP
    PosixPath('/root/.cache/alma-graph/graphiql-3.9.0')
    """
    target = Path(directory) if directory is not None else assets_directory()
    if assets_installed(target):
        return target
    replaceable = target.is_dir() and ((target / MANIFEST).exists() or not any(target.iterdir()))
    if target.exists() and not replaceable:
        # Never replace a folder we did not write (for example a mistyped $ALMA_GRAPH_ASSETS).
        raise AssetInstallError(f"{target} exists and is not a GraphiQL assets folder: "
                                "empty it or choose another directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    try:
        files: dict[str, str] = {}
        for package in PACKAGES:
            files.update(_extract(package, _tarball(package), staged))
        manifest = {"packages": _pinned(), "files": files}
        (staged / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        staged.chmod(0o755)  # mkdtemp makes it 0700; a server running as another user must read it
        try:
            _replace(target, staged)
        except OSError:
            if not assets_installed(target):  # lost a race with a concurrent install: fine if it won
                raise
    except OSError as error:
        raise AssetInstallError(f"cannot write the GraphiQL assets to {target}: {error}") from error
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return target


def install_command() -> str:
    """The shell command that installs the assets with this Python."""
    return f"{shlex.quote(sys.executable)} -m alma_graph.api.graphiql install"


def _script_value(value: object) -> str:
    # JSON is valid JavaScript; escaping "<" keeps a value from closing the <script> element.
    return json.dumps(value).replace("<", "\\u003c")


def graphiql_page(endpoint: str, assets_url: str, subscriptions_endpoint: str | None = None) -> str:
    """The GraphiQL page for `endpoint`, loading its scripts and styles from `assets_url`.

    `subscriptions_endpoint` may be relative (`/graphql`) or http(s)://; the page turns it into a
    ws(s):// URL. An API key goes in the Headers tab as {"Authorization": "Bearer <key>"}; headers
    stay out of localStorage unless the user turns on "Persist headers" in the settings.

    >>> graphiql_page("/graphql", "/graphql/assets/", "/graphql")  # doctest: +ELLIPSIS
    '<!doctype html>...'
    """
    base = assets_url.rstrip("/") + "/"
    scripts = "\n".join(f'  <script src="{html.escape(base + name)}"></script>'
                        for name in ASSET_FILES if name.endswith(".js"))
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>alma-graph GraphiQL</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="{html.escape(base + 'graphiql.min.css')}">
  <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
{scripts}
</head>
<body>
  <div id="graphiql">Loading GraphiQL...</div>
  <script>
    const endpoint = new URL({_script_value(endpoint)}, location.href);
    const subscriptions = {_script_value(subscriptions_endpoint)};
    let subscriptionUrl;
    if (subscriptions !== null) {{
      const url = new URL(subscriptions, location.href);
      url.protocol = url.protocol === "https:" ? "wss:" : (url.protocol === "http:" ? "ws:" : url.protocol);
      subscriptionUrl = url.href;
    }}
    const fetcher = GraphiQL.createFetcher({{url: endpoint.href, subscriptionUrl}});
    const hint = React.createElement(GraphiQL.Footer, null,
      'API key: enter {{"Authorization": "Bearer <key>"}} under Headers');
    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {{
        fetcher,
        isHeadersEditorEnabled: true,
        defaultEditorToolsVisibility: "headers",
        shouldPersistHeaders: false,
      }}, hint));
  </script>
</body>
</html>
"""


def missing_assets_page() -> str:
    """What /graphql shows in a browser before the assets are installed."""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>alma-graph GraphiQL: assets not installed</title></head>
<body style="font-family: sans-serif; max-width: 46em; margin: 3em auto">
  <h1>GraphiQL is not installed</h1>
  <p>The GraphQL API works (POST queries to this URL), but the GraphiQL page needs its
  browser files, which are installed locally rather than loaded from a CDN. Install them with:</p>
  <pre>{html.escape(install_command())}</pre>
  <p>They go to <code>{html.escape(str(assets_directory()))}</code>
  (set <code>ALMA_GRAPH_ASSETS</code> to choose another folder), then reload this page.</p>
</body>
</html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alma_graph.api.graphiql",
                                     description="Manage the local GraphiQL browser assets.")
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser("install", help="download and verify the GraphiQL assets")
    install.add_argument("--dir", type=Path, default=None,
                         help="target folder (default: $ALMA_GRAPH_ASSETS or the per-user cache)")
    args = parser.parse_args(argv)
    try:
        folder = install_assets(args.dir)
    except AssetInstallError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"GraphiQL {GRAPHIQL_VERSION} assets installed in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
