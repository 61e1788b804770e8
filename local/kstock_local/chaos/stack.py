"""``kstock up`` as a subprocess on free ports in a temporary home, and its processes by role.

The stack runs as a newcomer's would (tests/e2e/test_first_run.py): an environment stripped to PATH,
HOME and LANG plus free ports and the few knobs the suite sets (:data:`SUITE_SETTINGS`). The
processes a fault targets are found in the process tree of ``kstock up`` (Redis, the streamer, the
KIS simulator) or by their data directory (PostgreSQL, which pgserver starts detached).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from kstock_local.chaos.waiting import wait_until
from kstock_local.newcomer import free_stack_ports, fresh_machine_environment

# A symbol moves into or out of a KIS slot after wanting to for this long (default 30 s): short,
# so that the flood step sees within seconds whether one user could push others off their slots.
# A stall shows after 10 s of silence (default 45 s, above KIS's PINGPONG interval): the suite's KIS
# hang is 25 s under make test; the stack's symbols trade every second, so silence means the hang.
SUITE_SETTINGS = {"STREAMER_STABLE_SECONDS": "5", "KIS_STALL_SECONDS": "10"}
READY_BANNER = "kstock is up"
STOPPING = "[up] stopping"


class StackDied(RuntimeError):
    """``kstock up`` exited while the suite needed it."""


@dataclass
class ChaosStack:
    root: Path
    process: subprocess.Popen[bytes]
    ports: dict[str, int]
    keep: bool = False
    _removed: bool = field(default=False, repr=False)
    _stop_asked: bool = field(default=False, repr=False)

    # -- lifecycle ---------------------------------------------------------------------------------

    @classmethod
    def launch(cls, settings: dict[str, str] | None = None, keep: bool = False) -> ChaosStack:
        """Start ``kstock up`` in a fresh temporary directory (its home and KSTOCK_HOME)."""
        root = Path(tempfile.mkdtemp(prefix="kstock-chaos-"))
        (root / "home").mkdir()
        (root / "work").mkdir()
        ports = free_stack_ports()
        environment = fresh_machine_environment(root / "home", ports, **{**SUITE_SETTINGS, **(settings or {})})
        kstock = Path(sys.executable).with_name("kstock")
        with (root / "up.log").open("wb") as sink:
            process = subprocess.Popen(
                [str(kstock), "up"],
                cwd=root / "work",
                env=environment,
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a signal to the caller's process group (a Ctrl-C) is not a fault
            )
        return cls(root, process, ports, keep)

    def wait_ready(self, deadline: float, market: bool = True) -> None:
        """Until the ready banner (the market loaded: no loading competes with the faults for the
        CPU), or with ``market=False`` until the API answers (the market keeps loading meanwhile)."""
        if market:
            wait_until(lambda: self.alive() and READY_BANNER in self.output(), deadline, "the ready banner", 0.5)
        else:
            wait_until(lambda: self.alive() and self._answers(), deadline, "the API to answer /health", 0.5)

    def _answers(self) -> bool:
        try:
            requests.get(f"{self.api_url}/health", timeout=5)
        except requests.RequestException:
            return False
        return True

    def alive(self) -> bool:
        """True, or :class:`StackDied` when ``kstock up`` exited or began stopping unasked."""
        if self.process.poll() is not None:
            raise StackDied(f"kstock up exited with {self.process.returncode}:\n{self.output()[-3000:]}")
        if not self._stop_asked and STOPPING in self.output():
            raise StackDied(f"kstock up is stopping, and nobody asked it to:\n{self._around_stop()}")
        return True

    def _around_stop(self) -> str:
        output = self.output()
        at = output.find(STOPPING)
        return output[max(0, at - 3000) : at + 500]

    def stop(self, keep_log: bool = False) -> Path | None:
        """Ctrl-C ``kstock up`` and remove its directory; with ``keep_log`` (a failed run) its log is
        first copied beside the other temporary files, and its path returned."""
        self._stop_asked = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        kept = None
        if keep_log and self.log.exists():
            kept = Path(tempfile.gettempdir()) / f"{self.root.name}-up.log"
            shutil.copyfile(self.log, kept)
        if not self.keep and not self._removed:
            shutil.rmtree(self.root, ignore_errors=True)
            self._removed = True
        return kept

    # -- where things are ----------------------------------------------------------------------

    @property
    def log(self) -> Path:
        return self.root / "up.log"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['KSTOCK_API_PORT']}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ports['KSTOCK_WS_PORT']}/Prod"

    @property
    def streamer_health_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['STREAMER_HEALTH_PORT']}/health"

    @property
    def kstock_home(self) -> Path:
        return self.root / "work" / ".kstock"

    def state(self) -> dict[str, str]:
        """The environment ``kstock up`` published (stack.json): DATABASE_URL, REDIS_URL, AWS endpoint."""
        published = json.loads((self.kstock_home / "stack.json").read_text())
        return {str(k): str(v) for k, v in published["environment"].items()}

    # -- processes by role -----------------------------------------------------------------------

    def _descendants(self) -> list[psutil.Process]:
        self.alive()
        return psutil.Process(self.process.pid).children(recursive=True)

    def _one(self, what: str, matches: list[psutil.Process]) -> psutil.Process:
        running = [p for p in matches if _running(p)]
        if len(running) != 1:
            raise LookupError(f"expected one {what} process, found {len(running)}: {running}")
        return running[0]

    def redis_server(self) -> psutil.Process:
        port = str(self.ports["EMBEDDED_REDIS_PORT"])
        return self._one("redis-server", [p for p in self._descendants() if _named(p, "redis-server", port)])

    def streamer(self) -> psutil.Process:
        return self._one("streamer", [p for p in self._descendants() if _named(p, "-m", "kstock_streamer")])

    def kis_simulator(self) -> psutil.Process:
        return self._one("KIS simulator", [p for p in self._descendants() if _named(p, "sim-kis")])

    def postgres(self) -> list[psutil.Process]:
        """The postmaster first, then its children (backends, checkpointer, WAL writer...)."""
        data_dir = str(self.kstock_home / "postgres")
        masters = [p for p in psutil.process_iter() if _named(p, "-D", data_dir)]
        master = self._one("postmaster", [p for p in masters if not _named(p.parent(), data_dir)])
        return [master, *master.children()]


def _cmdline(process: psutil.Process | None) -> list[str]:
    if process is None:
        return []
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def _named(process: psutil.Process | None, *words: str) -> bool:
    """Whether every word appears in the process's command line (as an argument or inside one)."""
    line = _cmdline(process)
    joined = " ".join(line)
    return bool(line) and all(word in line or word in joined for word in words)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
