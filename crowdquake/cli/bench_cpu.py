"""CPU time spent by the server side of a benchmark phase, per request (Linux ``/proc``).

On a shared machine a phase's requests per second move with everybody else's load; the CPU time
the server's own processes spend per request moves far less (time waiting for a core is not
counted). Two groups are read from ``/proc/<pid>/stat`` (utime + stime, clock ticks):

- ``web``: the gunicorn master and all its descendants;
- ``database``: the PostgreSQL backends connected to the benchmark's database (their process
  title names it; ``ps`` shows the same). PostgreSQL's shared background processes (WAL writer,
  checkpointer) serve every database on the server and are left out, as are backends that
  end during the phase (the pool keeps its connections open; a backend it opens during the
  phase counts whole).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold blanks: split after it.
    return text[text.rindex(")") + 2 :].split()


def _cpu_ticks(pid: int) -> int:
    fields = _stat_fields(pid)
    if fields is None:
        return 0
    return int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14 and 15)


def _all_pids() -> list[int]:
    return [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)  # ppid (stat field 4)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _backends_of(database: str) -> set[int]:
    """PostgreSQL backends whose process title is ``postgres: [<cluster>:] <user> <database>
    <host> ...`` (Debian's clusters set ``cluster_name``, e.g. ``15/main:``)."""
    found = set()
    for pid in _all_pids():
        try:
            title = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, UnicodeDecodeError):
            continue
        words = title.split()
        if words[:1] == ["postgres:"] and database in words[2:4]:
            found.add(pid)
    return found


@dataclass(frozen=True)
class CpuSample:
    ticks: dict[int, int]  # pid -> utime + stime


@dataclass(frozen=True)
class ServerCpu:
    """Seconds of CPU of the web processes and of the database backends between two samples."""

    web_s: float
    database_s: float


class CpuMeter:
    """Samples the CPU of a gunicorn process tree and of one database's backends."""

    def __init__(self, server_pid: int, database: str) -> None:
        self.server_pid = server_pid
        self.database = database

    def available(self) -> bool:
        return (PROC / str(self.server_pid) / "stat").exists()

    def sample(self) -> tuple[CpuSample, CpuSample]:
        web = {pid: _cpu_ticks(pid) for pid in _descendants(self.server_pid)}
        database = {pid: _cpu_ticks(pid) for pid in _backends_of(self.database)}
        return CpuSample(web), CpuSample(database)

    @staticmethod
    def spent(before: tuple[CpuSample, CpuSample], after: tuple[CpuSample, CpuSample]) -> ServerCpu:
        def delta(a: CpuSample, b: CpuSample) -> float:
            # A process that is new at the end (a backend the pool opened) spent all of its
            # ticks in the phase.
            ticks = sum(t - a.ticks.get(pid, 0) for pid, t in b.ticks.items())
            return ticks / TICKS_PER_S

        return ServerCpu(delta(before[0], after[0]), delta(before[1], after[1]))
