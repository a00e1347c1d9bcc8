"""The client side of `adload env --stdio` (env/PROTOCOL.md): one adload process per
connection, one JSON line per request and per response, per-slot arrays in base64."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import weakref
from typing import Any

import numpy as np

_DTYPES = {"f32": "<f4", "f64": "<f8", "i32": "<i4", "u8": "u1"}


def find_binary(binary: str | None = None) -> str:
    """The adload binary: `binary`, else $ADLOAD_BIN, else `adload` on PATH."""
    path = binary or os.environ.get("ADLOAD_BIN") or shutil.which("adload")
    if not path:
        raise FileNotFoundError("the adload binary was not found: put it on PATH or set ADLOAD_BIN (swift build -c release --product adload)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise FileNotFoundError(f"{path} is not an executable adload binary (from ADLOAD_BIN or the binary argument)")
    return path


class Connection:
    """A running `adload env --stdio` with `batch` slots."""

    def __init__(self, env: str, batch: int, seed: int, days: int, features: str = "standard",
                 invalid_action: str = "no-ads", binary: str | None = None) -> None:
        command = [find_binary(binary), "env", "--stdio", "--env", env, "--batch", str(batch), "--seed", str(seed),
                   "--days", str(days), "--features", features, "--encoding", "base64", "--invalid-action", invalid_action]
        # stderr goes to a file, so a chatty process never blocks on a full pipe.
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        self.closed = False
        # A connection dropped without close() still ends its process.
        self._finalizer = weakref.finalize(self, _terminate, self.process, self._stderr)
        try:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"adload env did not start: {self._error_text() or 'no output'}")
            self.hello: dict[str, Any] = json.loads(line)
            if self.hello.get("protocol") != "adload-env" or self.hello.get("version") != 1:
                raise RuntimeError(f"adload env speaks {self.hello.get('protocol')} version {self.hello.get('version')}, "
                                   "this package speaks adload-env 1")
        except BaseException:
            self.closed = True
            self._finalizer()
            raise
        self.batch = int(self.hello["batch"])
        self.observation_count = len(self.hello["observation_names"])
        self.action_count = len(self.hello["actions"])

    def _error_text(self) -> str:
        """What the process wrote on stderr (after it ended, or 10 s)."""
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Sends one request and returns its response; an `error` response raises ValueError."""
        if self.closed:
            raise RuntimeError("the adload env process is closed")
        self.process.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            self.process.wait()
            self.closed = True
            message = self._error_text()
            self._finalizer()
            raise RuntimeError(f"adload env stopped: {message or 'no output'}")
        response = json.loads(line)
        if "error" in response:
            raise ValueError(response["error"])
        return response

    def column(self, value: str, dtype: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """A base64 column as a numpy array (a copy, so callers may keep or change it)."""
        array = np.frombuffer(base64.b64decode(value), dtype=_DTYPES[dtype]).copy()
        return array.reshape(shape) if shape is not None else array

    def observations(self, response: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observations (batch x D, float32), masks (batch x K, bool) and users (int)."""
        observations = self.column(response["observations"], "f32", (self.batch, self.observation_count))
        masks = self.column(response["masks"], "u8", (self.batch, self.action_count)).astype(bool)
        users = self.column(response["users"], "i32")
        return observations, masks, users

    def step_columns(self, response: dict[str, Any]) -> dict[str, np.ndarray]:
        """A step's rewards, flags and info columns."""
        types = {"user": "i32", "session": "i32", "action": "i32", "replaced": "u8", "items": "i32", "ads": "i32",
                 "clicks": "i32", "negatives": "i32", "revenue": "f64", "dwell": "f64", "churned": "u8", "gap_days": "f64"}
        columns = {name: self.column(response["info"][name], dtype) for name, dtype in types.items()}
        for name in ("replaced", "churned"):
            columns[name] = columns[name].astype(bool)
        columns["rewards"] = self.column(response["rewards"], "f64")
        columns["terminated"] = self.column(response["terminated"], "u8").astype(bool)
        columns["truncated"] = self.column(response["truncated"], "u8").astype(bool)
        return columns

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self.process.stdin.write(b'{"op":"close"}\n')
            self.process.stdin.flush()
            self.process.stdout.readline()
        except (BrokenPipeError, OSError, ValueError):
            pass
        self._finalizer()


def _terminate(process: subprocess.Popen, stderr) -> None:
    """Ends an adload env process and releases its pipes (close(), errors, or garbage collection)."""
    for stream in (process.stdin, process.stdout):
        try:
            stream.close()
        except OSError:
            pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    stderr.close()
