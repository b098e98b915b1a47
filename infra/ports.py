"""The port a server process (started by a test or by infra/topology.py) is listening on.

Servers started by tests bind port 0 and the test asks the OS which port
they got. The usual alternative, "bind port 0 in the test, note the number,
close the socket, start the server on that number", races every other
process on the machine: between the close and the server's bind another
test run (this machine is shared) can take the port, and the server then
fails to start or, worse, the test talks to someone else's server. With
port 0 the kernel picks a free port inside the server's own bind(), so
there is no window.

The port is read from the OS's table of the process's listening sockets
(what `ss -ltnp` shows, through psutil) rather than from the server's
output: LiveServer runs uvicorn at log level "warning", which does not print
the port, and `shuping run` prints the port it was asked for (0). For
uvicorn with several workers the supervisor process holds the listening
socket, so the pid of the process the test started is the one to ask.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import psutil


def listening_port(
    proc: subprocess.Popen[Any], *, timeout: float = 120.0, output: Callable[[], str] = lambda: ""
) -> int:
    """The TCP port `proc` listens on, as soon as it listens.

    Raises if the process exits first, listens on more than one port (the
    port would be ambiguous), or does not listen within `timeout` seconds (a
    ceiling for a hung start, not a speed requirement).
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening:\n{output()}")
        try:
            ports = {
                conn.laddr.port
                for conn in psutil.Process(proc.pid).net_connections(kind="tcp")
                if conn.status == psutil.CONN_LISTEN
            }
        except psutil.NoSuchProcess:
            continue  # it exited meanwhile: poll() says so on the next round
        if len(ports) == 1:
            return ports.pop()
        if len(ports) > 1:
            raise RuntimeError(f"{proc.args!r} listens on several ports {sorted(ports)}: which one is the server?")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args!r} did not listen within {timeout} s:\n{output()}")
        time.sleep(0.05)
