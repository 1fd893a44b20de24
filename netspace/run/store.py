"""One SQLite file per sweep: its settings and every trial's params, spec, cost and results.

The sweep driver is the only writer (workers hand results back to it), and
every change is one transaction, so killing the driver at any instant leaves
the file consistent: a finished trial is either fully recorded or not at all.
WAL mode lets readers (``sweep status``, analysis) read while it writes.

The store knows nothing of training or plots: it keeps JSON-able values.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from netspace.errors import NetspaceError
from netspace.schema import STATUSES  # what each status means: netspace.schema.STATUS_MEANINGS

STORE_NAME = "sweep.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    trial INTEGER PRIMARY KEY,
    params TEXT NOT NULL,
    spec TEXT NOT NULL,
    flops INTEGER NOT NULL,
    num_params INTEGER NOT NULL,
    acts INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    error REAL,
    best_error REAL,
    epochs INTEGER,
    wall_seconds REAL,
    images_per_second REAL,
    message TEXT,
    started REAL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS metrics (
    trial INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    row TEXT NOT NULL,
    PRIMARY KEY (trial, epoch)
);
CREATE TABLE IF NOT EXISTS search (
    trial INTEGER PRIMARY KEY,
    tokens TEXT NOT NULL,
    arch TEXT NOT NULL,
    latency_ms REAL,
    reward REAL
);
"""

# Latency figures measured on a trial's model (``netspace latency DIR``): one
# row per trial and setting, added by a separate CREATE so stores written
# before it gain the table when opened.
_LATENCY_SCHEMA = """
CREATE TABLE IF NOT EXISTS latency (
    trial INTEGER NOT NULL,
    device TEXT NOT NULL,
    batch INTEGER NOT NULL,
    resolution INTEGER NOT NULL,
    threads INTEGER NOT NULL,
    mode TEXT NOT NULL,
    median_ms REAL NOT NULL,
    p10_ms REAL,
    p90_ms REAL,
    images_per_second REAL,
    repeats INTEGER,
    stable INTEGER,
    predicted_ms REAL,
    measured REAL NOT NULL,
    PRIMARY KEY (trial, device, batch, resolution, threads, mode)
);
"""
LATENCY_KEYS = ("device", "batch", "resolution", "threads", "mode")
LATENCY_FIGURES = ("median_ms", "p10_ms", "p90_ms", "images_per_second", "repeats", "stable", "predicted_ms")


class StoreError(NetspaceError):
    """A sweep store is missing, unreadable or from another sweep."""


@dataclass(frozen=True)
class Trial:
    """One row of the trials table, JSON fields decoded."""

    trial: int
    params: dict[str, Any]
    spec: dict[str, Any]
    flops: int
    num_params: int
    acts: int
    status: str
    error: float | None
    best_error: float | None
    epochs: int | None
    wall_seconds: float | None
    images_per_second: float | None
    message: str | None


class Store:
    """A sweep's SQLite store; use as a context manager or call ``close()``."""

    def __init__(self, path: str | os.PathLike, *, create: bool = False) -> None:
        path = Path(path)
        if path.is_dir() or path.suffix != ".sqlite":
            path = path / STORE_NAME
        if not create and not path.exists():
            raise StoreError(f"no sweep store at {path}; run 'netspace sweep' with --out {path.parent} first")
        self.path = path
        if not create and path.stat().st_size == 0:
            raise StoreError(f"{path} is an empty file, not a sweep store; {self._rebuild_hint()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect(path, create)
            if not create:
                self.check()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{path} is damaged or not a sweep store ({e}); {self._rebuild_hint()}") from None
        except OSError as e:
            raise StoreError(f"{path}: cannot open the sweep store ({e.strerror or e}); check the directory's "
                             "permissions and free space") from None

    @staticmethod
    def _connect(path: Path, create: bool) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.executescript(_LATENCY_SCHEMA)
            return db
        except sqlite3.OperationalError:
            if create or os.access(path.parent, os.W_OK):
                raise
        # A reader in a directory it cannot write (a read-only copy of a sweep): SQLite's WAL needs to write
        # its index file beside the store, so open the file as immutable instead, for reading only.
        return sqlite3.connect(f"file:{path}?immutable=1", uri=True, timeout=30, isolation_level=None)

    def _rebuild_hint(self) -> str:
        return (f"move it away (e.g. to {self.path.name}.damaged) and rerun the same sweep command: trials that "
                f"finished are read back from {self.path.parent / 'trials'}/NNNN/result.json without retraining")

    def check(self) -> None:
        """SQLite's quick_check and a JSON decode of every stored row; a StoreError naming what is damaged."""
        problems = [r[0] for r in self._db.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise StoreError(f"{self.path} is damaged ({'; '.join(problems[:3])}); {self._rebuild_hint()}")
        bad: list[str] = []
        for key, value in self._db.execute("SELECT key, value FROM settings"):
            try:
                json.loads(value)
            except ValueError:
                bad.append(f"setting {key!r}")
        for trial, params, spec in self._db.execute("SELECT trial, params, spec FROM trials"):
            try:
                json.loads(params), json.loads(spec)
            except (ValueError, TypeError):
                bad.append(f"trial {trial}")
        for trial, row in self._db.execute("SELECT trial, row FROM metrics"):
            try:
                json.loads(row)
            except (ValueError, TypeError):
                bad.append(f"metrics of trial {trial}")
        if bad:
            shown = ", ".join(sorted(set(bad))[:8]) + (" and more" if len(set(bad)) > 8 else "")
            raise StoreError(f"{self.path} holds undecodable rows ({shown}); {self._rebuild_hint()}")
        if not self.settings().get("config"):
            raise StoreError(f"{self.path} holds no sweep settings (a sweep killed before its first write, or "
                             f"not a sweep store); {self._rebuild_hint()}")

    # -- lifecycle -----------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> "_Transaction":
        return _Transaction(self._db)

    # -- settings ------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        rows = self._db.execute("SELECT key, value FROM settings").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def put_settings(self, settings: dict[str, Any]) -> None:
        with self._tx() as db:
            self._put_settings(db, settings)

    @staticmethod
    def _put_settings(db: sqlite3.Connection, settings: dict[str, Any]) -> None:
        db.executemany("INSERT OR REPLACE INTO settings VALUES (?, ?)",
                       [(k, json.dumps(v, sort_keys=True)) for k, v in settings.items()])

    # -- trials --------------------------------------------------------------
    def add_trials(self, rows: Iterable[tuple[int, dict, dict, dict]], *,
                   search: Iterable[tuple[int, list[int] | None, str, float | None]] = (),
                   results: Iterable[tuple[int, dict, list[dict], float | None]] = (),
                   settings: dict[str, Any] | None = None) -> None:
        """One transaction: (trial, params, spec_dict, complexity) rows as pending, their search rows
        (trial, tokens, arch key, latency_ms), results already known (trial, result, metrics, reward) and
        settings (the run's config on its first write; the strategy state after asking)."""
        with self._tx() as db:
            self._add_trials(db, rows)
            db.executemany("INSERT INTO search (trial, tokens, arch, latency_ms) VALUES (?, ?, ?, ?)",
                           [(i, json.dumps(None if t is None else list(t)), a, lat) for i, t, a, lat in search])
            for trial, result, metrics, reward in results:
                self._record_result(db, trial, result, metrics)
                db.execute("UPDATE search SET reward=? WHERE trial=?", (reward, trial))
            if settings:
                self._put_settings(db, settings)

    @staticmethod
    def _add_trials(db: sqlite3.Connection, rows: Iterable[tuple[int, dict, dict, dict]]) -> None:
        db.executemany(
            "INSERT INTO trials (trial, params, spec, flops, num_params, acts) VALUES (?, ?, ?, ?, ?, ?)",
            [(i, json.dumps(p, sort_keys=True), json.dumps(s), c["flops"], c["params"], c["acts"])
             for i, p, s, c in rows],
        )

    def mark_running(self, trial: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE trials SET status='running', started=? WHERE trial=?", (time.time(), trial))

    def release(self, trial: int, message: str) -> None:
        """Back to pending, with the reason: the trial stopped for a fault of the machine and runs again."""
        with self._tx() as db:
            db.execute("UPDATE trials SET status='pending', message=? WHERE trial=?", (message, trial))

    def record_result(self, trial: int, result: dict[str, Any], metrics: list[dict[str, Any]], *,
                      reward: float | None = None, settings: dict[str, Any] | None = None) -> None:
        """A finished trial (done, diverged or failed), its per-epoch metrics, its reward (searches) and
        settings (the strategy state after telling it), all in one transaction."""
        status = result.get("status", "failed")
        if status not in STATUSES:
            raise StoreError(f"trial {trial}: unknown status {status!r}")
        with self._tx() as db:
            self._record_result(db, trial, result, metrics)
            if reward is not None:
                db.execute("UPDATE search SET reward=? WHERE trial=?", (reward, trial))
            if settings:
                self._put_settings(db, settings)

    @staticmethod
    def _record_result(db: sqlite3.Connection, trial: int, result: dict[str, Any],
                       metrics: list[dict[str, Any]]) -> None:
        status = result.get("status", "failed")
        if status not in STATUSES:
            raise StoreError(f"trial {trial}: unknown status {status!r}")
        db.execute(
            "UPDATE trials SET status=?, error=?, best_error=?, epochs=?, wall_seconds=?, "
            "images_per_second=?, message=?, finished=? WHERE trial=?",
            (status, result.get("error"),
             result.get("best_error"), result.get("epochs"),
             result.get("wall_seconds"), result.get("images_per_second"), result.get("message"),
             time.time(), trial),
        )
        db.execute("DELETE FROM metrics WHERE trial=?", (trial,))
        db.executemany("INSERT INTO metrics VALUES (?, ?, ?)",
                       [(trial, int(m["epoch"]), json.dumps(m)) for m in metrics])

    def search_rows(self) -> dict[int, dict[str, Any]]:
        """Per search trial: tokens, arch key, latency_ms and reward (None until finished); {} for sweeps."""
        rows = self._db.execute("SELECT trial, tokens, arch, latency_ms, reward FROM search ORDER BY trial")
        return {r[0]: {"tokens": json.loads(r[1]), "arch": r[2], "latency_ms": r[3], "reward": r[4]}
                for r in rows.fetchall()}

    def cached_latency(self, arch: str) -> float | None:
        """The latency already measured for an architecture key in this store, if any."""
        row = self._db.execute("SELECT latency_ms FROM search WHERE arch=? AND latency_ms IS NOT NULL LIMIT 1",
                               (arch,)).fetchone()
        return None if row is None else float(row[0])

    def trials(self, status: str | Iterable[str] | None = None) -> list[Trial]:
        sql = ("SELECT trial, params, spec, flops, num_params, acts, status, error, best_error, epochs, "
               "wall_seconds, images_per_second, message FROM trials")
        args: tuple = ()
        if status is not None:
            wanted = (status,) if isinstance(status, str) else tuple(status)
            sql += f" WHERE status IN ({','.join('?' * len(wanted))})"
            args = wanted
        rows = self._db.execute(sql + " ORDER BY trial", args).fetchall()
        return [Trial(r[0], json.loads(r[1]), json.loads(r[2]), *r[3:]) for r in rows]

    def metrics(self, trial: int) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT row FROM metrics WHERE trial=? ORDER BY epoch", (trial,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT status, COUNT(*) FROM trials GROUP BY status").fetchall()
        out = {s: 0 for s in STATUSES}
        out.update(dict(rows))
        return out

    # -- latency -------------------------------------------------------------
    def record_latency(self, rows: Iterable[tuple[int, dict[str, Any]]]) -> None:
        """Store (trial, figures) rows, replacing earlier figures of the same trial and setting.

        ``figures`` holds the setting (device, batch, resolution, threads
        (0 where none applies), mode) and the figures (median_ms, p10_ms,
        p90_ms, images_per_second, repeats, stable, predicted_ms).
        """
        cols = LATENCY_KEYS + LATENCY_FIGURES
        with self._tx() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO latency (trial, {', '.join(cols)}, measured) "
                f"VALUES ({', '.join('?' * (len(cols) + 2))})",
                [(trial, *(f.get(c) if c != "threads" else (f.get(c) or 0) for c in cols), time.time())
                 for trial, f in rows],
            )

    def latency(self, trial: int | None = None) -> list[dict[str, Any]]:
        """Stored latency rows (oldest first), of one trial or all."""
        cols = ("trial",) + LATENCY_KEYS + LATENCY_FIGURES + ("measured",)
        sql = f"SELECT {', '.join(cols)} FROM latency"
        args: tuple = ()
        if trial is not None:
            sql, args = sql + " WHERE trial=?", (trial,)
        rows = self._db.execute(sql + " ORDER BY measured, trial", args).fetchall()
        return [dict(zip(cols, r)) for r in rows]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")

