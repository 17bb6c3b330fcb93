"""Running commands (in an instance's namespace or not), polling, and the lab's log lines."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable

from .instance import Lab


def log(msg: str) -> None:
    print(f"lab: {msg}", flush=True)


def run(*cmd: str, ns: Lab | None = None, check: bool = True, input_text: str | None = None,
        quiet: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command (in the lab's namespace with `ns`); `env` adds variables, e.g. a password that
    must not be on a command line."""
    full = (["ip", "netns", "exec", ns.netns] if ns else []) + list(cmd)
    proc = subprocess.run(full, input=input_text, text=True, capture_output=quiet,
                          env={**os.environ, **env} if env else None)
    if check and proc.returncode != 0:
        said = (proc.stdout or "") + (proc.stderr or "")
        raise SystemExit(f"lab: command failed ({proc.returncode}): {' '.join(full)}\n{said}")
    return proc


def port_open(addr: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(ready: Callable[[], bool], timeout: float, failure: str) -> float:
    """Poll `ready` until it holds (the seconds that took) or `timeout` passes (exit with `failure`)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if ready():
            return time.monotonic() - start
        time.sleep(0.1)
    raise SystemExit(failure)
