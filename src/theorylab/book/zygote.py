"""Warm kernels: a "zygote" that imports the heavy libraries once and forks a fresh kernel per execution.

A chapter's kernel spends most of its fixed cost importing torch, numpy, scipy, pandas and altair
(about 3.6 of 4.4 CPU-seconds). The zygote is one process, started per build with exactly the
environment a kernel gets, that imports those third-party libraries (never ``theorylab``: a chapter
imports the package itself, from the checkout's current files) and then waits. For each execution
it ``fork()``s a child which becomes the Jupyter kernel: it starts its own session (so the build can
kill its whole process group), takes the log file as stdout/stderr, the chapter's folder as working
directory and the kernel's environment, draws fresh entropy where a cold interpreter would (Python's
``random``, numpy's global generator, torch's CPU generator), and runs ``ipykernel`` as ``python -m ipykernel_launcher -f
<connection file>`` would. Every execution therefore starts from the same clean post-import state
and shares nothing with any other execution; nothing it does can reach the zygote.

Safety: a fork is refused (and the build falls back to a cold kernel) unless the zygote has a single
thread -- a forked copy of a multi-threaded process can deadlock. The zygote never creates a zmq
context, an event loop or a torch thread pool. The test suite's determinism re-run uses a cold
kernel, so every run of the suite shows that warm and cold kernels measure bit-identical claims.

The build talks to the zygote over a Unix socket that the build creates and listens on (so it can
connect before the zygote has finished importing): one connection per kernel carries the request
(connection file, working directory, environment; the log file's descriptor travels with it) and
then, when the child exits, its wait status. :class:`Provisioner` gives jupyter_client a Popen-like
handle on the child, so kernel start, kill, interrupt and the death report work as for a cold kernel.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# what the zygote may import once, when some chapter of the run imports the library (by top-level
# name); each is free of global side effects a chapter could observe (checked: a warm and a cold
# kernel measure bit-identical claims). The kernel's own modules are always imported.
PRELOAD = ("numpy", "scipy", "scipy.linalg", "scipy.sparse", "scipy.sparse.linalg", "scipy.optimize",
           "scipy.special", "scipy.stats", "torch", "pandas", "altair", "networkx", "sklearn")
KERNEL = ("IPython", "ipykernel.ipkernel", "ipykernel.kernelapp", "ipykernel.zmqshell")
READY_TIMEOUT = 120.0  # seconds a kernel may wait for the zygote's imports and the fork


# ---------------------------------------------------------------------------------------------
# the zygote process


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def _recv_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """One request: a JSON line, with the log file's descriptor attached."""
    data, fds = b"", []
    while not data.endswith(b"\n"):
        msg, anc, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(4 * array.array("i").itemsize))
        if not msg:
            raise EOFError("the build closed the connection")
        data += msg
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(payload[: len(payload) - len(payload) % a.itemsize])
                fds.extend(a)
    return json.loads(data), fds


def _child(request: dict[str, Any], fds: list[int], inherited: list[int]) -> None:
    """In the forked child: become the kernel, as ``python -m ipykernel_launcher -f <file>`` would."""
    code = 1
    try:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.set_wakeup_fd(-1)
        for fd in inherited:  # the zygote's sockets and pipes: none of the kernel's business
            with contextlib.suppress(OSError):
                os.close(fd)
        os.setsid()  # its own process group: the build kills the kernel and whatever it started
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        log = fds[0] if fds else os.open(os.devnull, os.O_WRONLY)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for fd in {null, log, *fds}:
            if fd > 2:
                os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        import random

        random.seed()  # fresh entropy, as a cold interpreter draws at start
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # numpy's global generator: fresh entropy, as at import
        if "torch" in sys.modules:
            sys.modules["torch"].default_generator.seed()  # torch's CPU generator: likewise (CUDA's start lazily)
        sys.argv = [request["launcher"], *request["argv"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=request["argv"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def serve(listener: socket.socket) -> int:
    """The zygote's loop: fork a kernel per request, report each child's exit; stop when stdin closes."""
    sel = selectors.DefaultSelector()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *a: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the build, which ends us
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    children: dict[int, socket.socket | None] = {}
    conns: set[socket.socket] = set()

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            conn = children.pop(pid, None)
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(f"exit {status}\n".encode())
                conns.discard(conn)
                with contextlib.suppress(Exception):
                    sel.unregister(conn)
                conn.close()

    try:
        while True:
            for key, _ in sel.select(timeout=1.0):
                if key.data == "stdin":
                    if not os.read(sys.stdin.fileno(), 4096):
                        return 0
                elif key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(wake_r, 4096):
                            pass
                    reap()
                elif key.data == "accept":
                    conn, _ = listener.accept()
                    conn.setblocking(True)
                    try:
                        request, fds = _recv_request(conn)
                    except (OSError, EOFError, ValueError):
                        conn.close()
                        continue
                    if _threads() != 1:  # never fork a multi-threaded process
                        conn.sendall(f"refused {_threads()} threads\n".encode())
                        conn.close()
                        for fd in fds:
                            os.close(fd)
                        continue
                    closed = [listener.fileno(), sel.fileno() if hasattr(sel, "fileno") else -1, wake_r, wake_w,
                              *(c.fileno() for c in conns), conn.fileno()]
                    pid = os.fork()
                    if pid == 0:
                        _child(request, fds, [fd for fd in closed if fd >= 0])
                    for fd in fds:
                        os.close(fd)
                    children[pid] = conn
                    conns.add(conn)
                    conn.sendall(f"pid {pid}\n".encode())
                    sel.register(conn, selectors.EVENT_READ, "conn")
                else:  # the build closed a kernel's connection: it no longer wants the exit status
                    conn = key.fileobj
                    with contextlib.suppress(OSError):
                        if conn.recv(1024):
                            continue
                    sel.unregister(conn)
                    conns.discard(conn)
                    for pid, c in list(children.items()):
                        if c is conn:
                            children[pid] = None
                    conn.close()
            reap()
    finally:
        for pid in list(children):  # the build is gone: so are its kernels
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        for pid in list(children):
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)


def main() -> int:
    # a kernel's path: ipykernel_launcher drops its own entry (the working directory); we drop ours
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    listener = socket.socket(fileno=int(sys.argv[1]))
    wanted = set(json.loads(sys.argv[2])) if len(sys.argv) > 2 else set()
    import importlib

    for name in [m for m in PRELOAD if m.split(".")[0] in wanted] + list(KERNEL):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    return serve(listener)


# ---------------------------------------------------------------------------------------------
# the build's side


class Zygote:
    """A running zygote, owned by one build (a context manager: it ends with the build)."""

    def __init__(self, env: dict[str, str], cwd: Path, libraries: set[str] | frozenset[str] = frozenset()):
        """Start a zygote with a kernel's environment ``env`` in the kernels' working directory ``cwd``
        (relative entries of PYTHONPATH resolve there, as for a kernel; other folders get cold kernels),
        importing those of :data:`PRELOAD` whose top-level name is in ``libraries``."""
        self.cwd = str(Path(cwd).resolve())
        self._dir = tempfile.mkdtemp(prefix="theorylab-zygote-")
        self.path = os.path.join(self._dir, "sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(64)
        self.env = dict(env)
        # run by path, not as ``-m theorylab...``: the zygote needs only the standard library, and its
        # sys.path is then exactly a kernel's (the script's folder is dropped, as ipykernel_launcher does)
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), str(self.listener.fileno()),
                                      json.dumps(sorted(libraries))],
                                     env=self.env, cwd=self.cwd, stdin=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, stderr=None, pass_fds=[self.listener.fileno()])
        import ipykernel_launcher  # the path a cold kernel runs, for sys.argv[0]

        self.launcher = ipykernel_launcher.__file__

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()  # the zygote kills any kernel still running and exits
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.listener.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self._dir)

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def spawn(self, argv: list[str], cwd: str, env: dict[str, str], log: Any) -> "Child | None":
        """Fork a kernel with ``argv`` (``-f <connection file>``); None when the zygote refuses or is gone."""
        if not self.alive() or str(Path(cwd).resolve()) != self.cwd:
            return None
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.path)
            request = json.dumps({"argv": argv, "cwd": cwd, "env": env, "launcher": self.launcher}).encode() + b"\n"
            fds = [log.fileno()] if log is not None and hasattr(log, "fileno") else []
            conn.sendmsg([request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else [])
            conn.setblocking(False)
            reply = b""
            loop = asyncio.get_running_loop()
            while not reply.endswith(b"\n"):
                chunk = await asyncio.wait_for(loop.sock_recv(conn, 256), READY_TIMEOUT)
                if not chunk:
                    raise EOFError
                reply += chunk
        except (OSError, EOFError, asyncio.TimeoutError):
            conn.close()
            return None
        word, _, rest = reply.decode().strip().partition(" ")
        if word != "pid":
            conn.close()
            return None
        return Child(int(rest), conn)


class Child:
    """A Popen-like handle on a forked kernel (not our child: the zygote reaps it and tells us how it ended)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, conn: socket.socket):
        self.pid, self._conn, self.returncode = pid, conn, None
        self._buf = b""

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        try:
            while True:
                chunk = self._conn.recv(256)
                if not chunk:  # the zygote is gone: the kernel is dead unless it is still there
                    return self._gone()
                self._buf += chunk
                if self._buf.endswith(b"\n"):
                    status = int(self._buf.decode().split()[1])
                    self.returncode = os.waitstatus_to_exitcode(status)
                    self._conn.close()
                    return self.returncode
        except BlockingIOError:
            return None
        except OSError:
            return self._gone()

    def _gone(self) -> int | None:
        try:
            os.kill(self.pid, 0)
            return None
        except OSError:
            self.returncode = -signal.SIGKILL
            with contextlib.suppress(OSError):
                self._conn.close()
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired("kernel", timeout)
            time.sleep(0.02)
        return self.returncode  # type: ignore[return-value]

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def provisioner(km: Any, zygote: Zygote) -> Any:
    """A jupyter_client provisioner for ``km`` that forks its kernel from ``zygote`` (cold when refused)."""
    from jupyter_client.provisioning.local_provisioner import LocalProvisioner

    class Provisioner(LocalProvisioner):
        warm = False

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            f = cmd.index("-f") if "-f" in cmd else None
            child = None
            if f is not None:
                env = {k: str(v) for k, v in (kwargs.get("env") or os.environ).items()}
                child = await zygote.spawn(cmd[f:], str(kwargs.get("cwd") or os.getcwd()), env, kwargs.get("stdout"))
            if child is None:  # refused or gone: a cold kernel, as without a zygote
                return await super().launch_kernel(cmd, **kwargs)
            self.warm = True
            self.process, self.pid, self.pgid = child, child.pid, child.pid
            import pathlib

            self.cwd = kwargs.get("cwd", pathlib.Path.cwd())
            return self.connection_info

    return Provisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)


if __name__ == "__main__":
    sys.exit(main())
