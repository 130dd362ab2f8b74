"""Deployments end to end: a real Prefect server, process workers, and the
deployments of ``deploy/prefect.yaml`` created with the ``prefect`` CLI.

Everything is a real process on 127.0.0.1: ``prefect server start`` with its
own PREFECT_HOME (SQLite), ``prefect deploy``, two ``prefect worker start``
(each runs one flow run at a time), the bundled demo news site in this process,
and the flow runs the workers start. The workers get the INGEST_* settings the
fetcher needs to reach the demo site from their environment, as in production.

The two ingest runs are made to overlap for real: the demo site holds the first
request for one feed until the second run asks for it too (or 15 s pass), so
both runs are in flight at once, each on its own worker, and both load into the
same DuckDB file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from flows.common import WRITER_LIMIT

from ingest.demo.runner import demo_environment
from ingest.demo.server import Reply, RequestInfo, SiteServer, etag_of, http_date

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PREFECT_FILE = "deploy/prefect.yaml"
POOL = "news-ingest"
ENTRYPOINTS = {  # deployment name -> entrypoint file, as in deploy/prefect.yaml
    "ingest-feeds": "flows/ingest_feeds.py",
    "backfill": "flows/backfill.py",
    "reprocess": "flows/reprocess.py",
    "maintain": "flows/maintain.py",
}
SERVER_START_TIMEOUT = 90.0
RUN_TIMEOUT = 240.0  # all flow runs of one test, from trigger to final state
OVERLAP_WAIT = 15.0  # below the fetcher's 20 s read timeout
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _prefect_bin() -> str:
    candidate = Path(sys.executable).with_name("prefect")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("prefect")
    assert found, "the prefect CLI is not installed"
    return found


PREFECT = _prefect_bin()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc (empty where there is no /proc)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class Proc:
    """A process started in its own session, its output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(
        cls, name: str, args: Sequence[str], env: Mapping[str, str], cwd: Path, logs: Path
    ) -> Proc:
        log = logs / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, popen, log)

    def tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return f"--- {self.name} ({self.log}) ---\n" + "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM to its process group, SIGKILL after 10 s; then every process
        it started in a session of its own (the workers' flow runs)."""
        if self.popen.poll() is None:
            strays = _descendants(self.popen.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        else:
            strays = []
        own_group = os.getpgrp()
        for pid in strays:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                group = os.getpgid(pid)
                if group != own_group:
                    os.killpg(group, signal.SIGKILL)


@dataclass
class PrefectServer:
    """``prefect server start`` on a free loopback port with its own PREFECT_HOME,
    and the environment every process that talks to it gets."""

    root: Path
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "INGEST_"))}
        self.env = base | {
            "PREFECT_HOME": str(self.root / "prefect-home"),
            "PREFECT_API_URL": self.api,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_CLI_PROMPT": "false",
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",  # the CLI's output is not wrapped
        }

    def start(self) -> None:
        server = self.spawn(
            "server",
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
        )
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if server.popen.poll() is not None:
                pytest.fail(f"prefect server exited early\n{server.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.3)
        pytest.fail(f"prefect server not healthy after {SERVER_START_TIMEOUT} s\n{server.tail()}")

    def spawn(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str] | None = None,
        cwd: Path = REPO,
    ) -> Proc:
        proc = Proc.start(name, args, env or self.env, cwd, self.logs)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        """Workers and everything else first, the server last."""
        for proc in reversed(self.procs):
            proc.stop()

    def diagnostics(self) -> str:
        return "\n".join(p.tail() for p in self.procs)

    def cli(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        """A ``prefect`` command run to completion; its output, or the test fails."""
        done = subprocess.run(
            [PREFECT, *args],
            cwd=REPO,
            env=dict(env or self.env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"prefect {' '.join(args)} -> {done.returncode}\n{output}"
        return output

    def get(self, path: str) -> Any:
        response = httpx.get(f"{self.api}{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def run_deployment(self, name: str, params: Mapping[str, Any]) -> str:
        """``prefect deployment run NAME --param k=<json>...``; the flow run id."""
        args = ["deployment", "run", name]
        for key, value in params.items():
            args += ["--param", f"{key}={json.dumps(value)}"]
        output = self.cli(*args)
        found = re.search(r"UUID:\s*([0-9a-f-]{36})", output)
        assert found, f"no flow run id in the output of prefect deployment run:\n{output}"
        return found.group(1)

    def wait(self, run_ids: Sequence[str], timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
        """Poll until every run is in a final state; the runs by id."""
        deadline = time.monotonic() + timeout
        runs: dict[str, Any] = {}
        while time.monotonic() < deadline:
            runs = {rid: self.get(f"/flow_runs/{rid}") for rid in run_ids}
            if all(r["state_type"] in TERMINAL for r in runs.values()):
                return runs
            time.sleep(1)
        states = {rid: r["state_type"] for rid, r in runs.items()}
        pytest.fail(f"flow runs not finished after {timeout} s: {states}\n{self.diagnostics()}")

    def assert_completed(self, runs: Mapping[str, Any]) -> None:
        failed = {
            rid: f"{r['state_type']}: {(r.get('state') or {}).get('message')}"
            for rid, r in runs.items()
            if r["state_type"] != "COMPLETED"
        }
        assert not failed, f"flow runs did not complete: {failed}\n{self.diagnostics()}"


class FeedRendezvous:
    """Holds the first request for one feed until a second request for it
    arrives (or ``OVERLAP_WAIT`` passes), then serves the feed to both: two
    runs that each fetch it are then provably in flight at the same time."""

    def __init__(self, site: SiteServer, path: str) -> None:
        self.site = site
        self.path = path
        self.arrived = 0
        self.met = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, request: RequestInfo) -> Reply:
        with self.lock:
            self.arrived += 1
            if self.arrived >= 2:
                self.met.set()
        self.met.wait(OVERLAP_WAIT)
        resource = self.site.site.resources[self.site.site.resolve(self.path) or self.path]
        headers = {
            "Content-Type": resource.content_type,
            "ETag": etag_of(resource.body),
            "Last-Modified": http_date(resource.last_modified),
            "Cache-Control": "public, max-age=60",
        }
        return Reply(200, headers, resource.body)


class HeldFeed:
    """Holds every request for one feed until released (at most
    ``RUN_TIMEOUT``): a run that asks for it is provably in flight."""

    def __init__(self, site: SiteServer, path: str) -> None:
        self.site = site
        self.path = path
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, request: RequestInfo) -> Reply:
        self.arrived.set()
        self.release.wait(RUN_TIMEOUT)
        return Reply(503, {"Retry-After": "60"}, b"")


@dataclass
class Stack:
    server: PrefectServer
    site: SiteServer
    sources: Path
    warehouse: Path
    rendezvous: FeedRendezvous
    deployed: list[str]


def _deploy_args() -> tuple[list[str], list[str]]:
    """``prefect deploy`` arguments: ``--all`` when every entrypoint exists,
    else ``--name`` for each deployment whose flow file is there."""
    present = [name for name, path in ENTRYPOINTS.items() if (REPO / path).exists()]
    if len(present) == len(ENTRYPOINTS):
        return ["deploy", "--all", "--prefect-file", PREFECT_FILE], present
    names = [arg for name in present for arg in ("--name", name)]
    return ["deploy", "--prefect-file", PREFECT_FILE, *names], present


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("deploy")
    server = PrefectServer(root)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(server.stop)
        server.start()
        server.cli("work-pool", "create", POOL, "--type", "process")
        server.cli("global-concurrency-limit", "create", WRITER_LIMIT, "--limit", "1")
        args, deployed = _deploy_args()
        server.cli(*args)

        site = cleanup.enter_context(SiteServer())
        sources = root / "sources.toml"
        sources.write_text(site.site.sources_toml(), encoding="utf-8")
        warehouse = root / "data" / "news.duckdb"
        warehouse.parent.mkdir()
        rendezvous = FeedRendezvous(site, site.site.sites[0].feed_path)
        site.route(rendezvous.path, rendezvous)

        worker_env = server.env | demo_environment(site.site.hosts)
        worker_env |= {
            "INGEST_WAREHOUSE": str(warehouse),
            "INGEST_SOURCES": str(sources),
            "INGEST_EXTRACT_WORKERS": "1",
            "PREFECT_WORKER_QUERY_SECONDS": "1",
        }
        for i in (1, 2):
            server.spawn(
                f"worker-{i}",
                [PREFECT, "worker", "start", "--pool", POOL, "--name", f"w{i}", "--limit", "1"],
                env=worker_env,
            )
        yield Stack(server, site, sources, warehouse, rendezvous, deployed)


def _articles(warehouse: Path) -> tuple[int, int, list[tuple[str, str]]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT canonical_url) FROM articles"
        ).fetchone() or (0, 0)
        runs = con.execute("SELECT flow, status FROM runs ORDER BY started_at").fetchall()
    finally:
        con.close()
    return int(total), int(distinct), [(str(f), str(s)) for f, s in runs]


def test_deployments_from_prefect_yaml(stack: Stack) -> None:
    feeds = stack.server.get("/deployments/name/ingest_feeds/ingest-feeds")
    assert feeds["work_pool_name"] == POOL
    assert set(feeds["tags"]) >= {"news-ingest", "scheduled"}
    assert feeds["entrypoint"] == "flows/ingest_feeds.py:ingest_feeds"
    assert [s["schedule"]["interval"] for s in feeds["schedules"]] == [900.0]
    # the pull step sends the runs to the repository the deployment was made from
    assert feeds["pull_steps"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}
    ]
    for name in ("backfill", "reprocess"):
        if name in stack.deployed:
            manual = stack.server.get(f"/deployments/name/{name}/{name}")
            assert manual["work_pool_name"] == POOL and manual["schedules"] == []
    upkeep = stack.server.get("/deployments/name/maintain_warehouse/maintain")
    assert upkeep["entrypoint"] == "flows/maintain.py:maintain_warehouse"
    assert [s["schedule"]["cron"] for s in upkeep["schedules"]] == ["30 3 * * *"]


def test_two_overlapping_ingest_runs_on_two_workers(stack: Stack) -> None:
    params = {"all_feeds": True, "warehouse": str(stack.warehouse), "sources": str(stack.sources)}
    run_ids = [stack.server.run_deployment("ingest_feeds/ingest-feeds", params) for _ in (1, 2)]
    runs = stack.server.wait(run_ids)
    stack.server.assert_completed(runs)
    assert stack.rendezvous.met.is_set(), (
        f"the two runs did not overlap: {stack.rendezvous.arrived} request(s) for "
        f"{stack.rendezvous.path} within {OVERLAP_WAIT} s\n{stack.server.diagnostics()}"
    )

    total, distinct, warehouse_runs = _articles(stack.warehouse)
    assert total == distinct == stack.site.site.expected_articles()
    assert warehouse_runs.count(("ingest_feeds", "completed")) == 2
    # the loads took turns through the global concurrency limit and gave it back
    limit = stack.server.get(f"/v2/concurrency_limits/{WRITER_LIMIT}")
    assert limit["limit"] == 1 and limit["active_slots"] == 0
    worker_logs = [p.log.read_text() for p in stack.server.procs if p.name.startswith("worker")]
    assert not any("do not exist - skipping" in log for log in worker_logs)
    # the warehouse run ids are the Prefect flow run ids
    con = duckdb.connect(str(stack.warehouse), read_only=True)
    try:
        ids = {str(r[0]) for r in con.execute("SELECT run_id FROM runs").fetchall()}
    finally:
        con.close()
    assert set(run_ids) <= ids


def test_backfill_run_on_a_worker(stack: Stack) -> None:
    if "backfill" not in stack.deployed:
        pytest.skip(f"{ENTRYPOINTS['backfill']} does not exist yet: no backfill deployment")
    params = {
        "since": "2000-01-01",
        "warehouse": str(stack.warehouse),
        "sources": str(stack.sources),
    }
    before = _articles(stack.warehouse)[0] if stack.warehouse.exists() else None
    run_id = stack.server.run_deployment("backfill/backfill", params)
    runs = stack.server.wait([run_id])
    stack.server.assert_completed(runs)

    total, distinct, warehouse_runs = _articles(stack.warehouse)
    assert 0 < total == distinct
    if before is not None:
        # after the ingest runs: the site's history is what its feeds listed, so
        # the backfill finds every article known, adds nothing and copies nothing
        assert total == before == stack.site.site.expected_articles()
    assert ("backfill", "completed") in warehouse_runs


def test_serve_runs_the_scheduled_deployment_in_process(stack: Stack, tmp_path: Path) -> None:
    """``flows.serve.serve_scheduled`` against a server of its own (served
    deployments take over deployments of the same name, so not the one above),
    started outside the repository: its runs import the flows as modules."""
    server = PrefectServer(tmp_path)
    try:
        server.start()
        warehouse = tmp_path / "served.duckdb"
        env = server.env | demo_environment(stack.site.site.hosts)
        env |= {
            "INGEST_WAREHOUSE": str(warehouse),
            "INGEST_SOURCES": str(stack.sources),
            "INGEST_EXTRACT_WORKERS": "1",
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        }
        code = "from flows.serve import serve_scheduled; serve_scheduled(7, all_feeds=True)"
        serving = server.spawn("serve", [sys.executable, "-c", code], env=env, cwd=tmp_path)

        deadline = time.monotonic() + 60
        deployment: dict[str, Any] = {}
        while not deployment:
            assert serving.popen.poll() is None, f"serve exited\n{serving.tail()}"
            assert time.monotonic() < deadline, f"nothing served after 60 s\n{serving.tail()}"
            with contextlib.suppress(httpx.HTTPStatusError):
                deployment = server.get("/deployments/name/ingest_feeds/ingest-feeds")
            time.sleep(0.5)
        assert [s["schedule"]["interval"] for s in deployment["schedules"]] == [420.0]
        assert deployment["parameters"] == {"all_feeds": True}
        assert deployment["entrypoint"] == "flows.ingest_feeds.ingest_feeds"
        if "backfill" in stack.deployed:
            assert server.get("/deployments/name/backfill/backfill")["schedules"] == []

        run_ids = []
        for _ in range(2):  # the second finds nothing new, in the same warm process
            run_ids.append(server.run_deployment("ingest_feeds/ingest-feeds", {}))
            server.assert_completed(server.wait(run_ids[-1:]))
        # a run cancelled in Prefect while it waits on a feed stops in order,
        # and the process goes on serving
        held = HeldFeed(stack.site, stack.rendezvous.path)
        stack.site.route(held.path, held)
        try:
            cancelled = server.run_deployment("ingest_feeds/ingest-feeds", {})
            assert held.arrived.wait(RUN_TIMEOUT), f"the pass never asked\n{serving.tail()}"
            httpx.post(
                f"{server.api}/flow_runs/{cancelled}/set_state",
                json={"state": {"type": "CANCELLING"}, "force": True},
                timeout=10,
            ).raise_for_status()
            ended = server.wait([cancelled], timeout=60)[cancelled]
            assert ended["state_type"] == "CANCELLED", f"{ended['state']}\n{serving.tail()}"
        finally:
            held.release.set()
            stack.site.route(stack.rendezvous.path, stack.rendezvous)
        after = server.run_deployment("ingest_feeds/ingest-feeds", {})
        server.assert_completed(server.wait([after]))
        serving.stop()
        total, distinct, warehouse_runs = _articles(warehouse)
        assert total == distinct == stack.site.site.expected_articles()
        assert warehouse_runs == [("ingest_feeds", "completed")] * 2 + [
            ("ingest_feeds", "stopped"),
            ("ingest_feeds", "completed"),
        ]
        # both passes ran inside the serving process, not in a process each
        with duckdb.connect(str(warehouse), read_only=True) as con:
            hosts = [h for (h,) in con.execute("SELECT host FROM runs").fetchall()]
        assert hosts == [f"{socket.gethostname()}:{serving.popen.pid}"] * 4
        # stopping paused the schedule
        deployment = server.get("/deployments/name/ingest_feeds/ingest-feeds")
        assert deployment["paused"] is True
    finally:
        server.stop()


def test_the_alert_automations_are_valid_and_listen_to_what_runs_emit() -> None:
    """deploy/automations/alerts.yaml is what `prefect automation create -f`
    reads; its triggers expect the events the flows emit for alerts."""
    import inspect

    import yaml
    from flows import common
    from prefect.events.schemas.automations import AutomationCore

    data = yaml.safe_load((REPO / "deploy" / "automations" / "alerts.yaml").read_text())
    expected = set()
    for item in data["automations"]:
        automation = AutomationCore.model_validate(item)
        expected |= set(automation.trigger.expect)  # type: ignore[union-attr]
    source = inspect.getsource(common.emit_alert)
    assert 'f"news-ingest.alert.{change.action}"' in source
    assert expected == {"news-ingest.alert.opened", "news-ingest.alert.closed"}
