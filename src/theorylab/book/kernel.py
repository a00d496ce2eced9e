"""Run notebooks in Jupyter kernels, several at once, from one process (nbclient, asyncio).

One event loop drives up to ``jobs`` kernels; there is no worker interpreter per chapter. Each
notebook gets its parameters injected after its ``parameters`` cell (as papermill does, tagged
``injected-parameters``), runs cell by cell under an optional wall-clock limit, and its kernel is
killed (with its process group) the moment the last cell returns, fails, times out or is cancelled.
Ctrl-C or SIGTERM cancels every running notebook, kills their kernels and starts no new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
STARTUP_TIMEOUT = 120.0


class Interrupted(Exception):
    """The run was stopped by SIGINT or SIGTERM; ``running`` were cut off, ``pending`` never started."""

    def __init__(self, signum: int, running: list[Any], pending: list[Any], done: dict[Any, Any]):
        self.signum, self.running, self.pending, self.done = signum, running, pending, done
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


@dataclass
class Outcome:
    """What happened to one notebook: its executed form, an error (or None), time and memory."""

    nb: Any
    error: dict[str, Any] | None = None
    wall_s: float = 0.0
    peak_mem_mb: float = 0.0
    cells_run: int = 0
    code_cells: int = 0
    warm: bool = False  # forked from the zygote (see theorylab.book.zygote), else a cold kernel
    timings: dict[str, float] = field(default_factory=dict)


def inject(nb: Any, parameters: dict[str, Any]) -> Any:
    """Inject the parameters with papermill, as a cell after the one tagged ``parameters``.

    papermill writes the cell (tagged ``injected-parameters``; first when no cell is tagged
    ``parameters``) and records the parameters in ``metadata.papermill``; we add ``remove-cell`` so the
    book hides it. Execution itself is nbclient's, as in papermill's own engine, driven from one event
    loop so that several chapters run at once and an interrupt reaches every kernel.
    """
    from papermill.parameterize import parameterize_notebook

    for cell in nb.cells:
        cell.metadata.setdefault("tags", [])
    nb.metadata.setdefault("papermill", {})
    language = nb.metadata.get("kernelspec", {}).get("language", "python")
    nb = parameterize_notebook(nb, parameters, kernel_name=nb.metadata.get("kernelspec", {}).get("name"),
                               language=language)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata["tags"] and "remove-cell" not in cell.metadata["tags"]:
            cell.metadata["tags"].append("remove-cell")
    return nb


def _peak_mb(pid: int | None) -> float:
    """Peak resident memory of a live process (VmHWM, Linux); 0 when unknown."""
    if not pid:
        return 0.0
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmHWM:"):
                return round(int(row.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def _kill_group(km: Any) -> None:
    """SIGKILL the kernel's process group at once (synchronous: survives a cancelled cleanup)."""
    prov = getattr(km, "provisioner", None)
    proc = getattr(prov, "process", None)
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(OSError):
        os.killpg(getattr(prov, "pgid", None) or proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()


def _death(km: Any) -> str:
    prov = getattr(km, "provisioner", None)
    proc = getattr(prov, "process", None)
    code = proc.poll() if proc is not None else None
    if code is None:
        return "the kernel died"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        hint = " (killed: out of memory?)" if -code == signal.SIGKILL else ""
        return f"the kernel died: signal {name}{hint}"
    return f"the kernel died: exit code {code}"


def kernel_env() -> dict[str, str]:
    """A kernel's environment: one thread; THEORYLAB_BUILD keeps progress bars and printed values out of the book."""
    return {**os.environ, **{v: "1" for v in THREAD_VARS}, "THEORYLAB_BUILD": "1"}


async def run_notebook(nb: Any, *, cwd: Path, timeout: float | None = None, log: Path | None = None,
                       zygote: Any = None) -> Outcome:
    """Execute ``nb`` in a fresh kernel; never raises for a failing notebook (CancelledError passes).

    With a :class:`~theorylab.book.zygote.Zygote` the kernel is forked from it (a fresh kernel in the
    zygote's clean post-import state), else started cold; ``Outcome.warm`` says which."""
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    out = Outcome(nb=nb, code_cells=len(code_cells))
    env = kernel_env()
    km = AsyncKernelManager(kernel_name="python3")
    if zygote is not None:
        import uuid

        from .zygote import provisioner

        km.kernel_id = str(uuid.uuid4())
        km.provisioner = provisioner(km, zygote)
    client = NotebookClient(nb, km=km, timeout=None, allow_errors=False, record_timing=False,
                            startup_timeout=STARTUP_TIMEOUT, resources={"metadata": {"path": str(cwd)}})
    current = -1
    start = time.perf_counter()
    if log:
        log.parent.mkdir(parents=True, exist_ok=True)
    logf = open(log, "w") if log else None  # the kernel's stdout/stderr, away from the terminal
    task = asyncio.current_task()
    expired: list[bool] = []

    def expire() -> None:  # the wall-clock limit: cancel this execution, and say so below
        expired.append(True)
        task.cancel()

    deadline = None
    try:
        # the wall-clock limit covers the cells; start-up has its own (STARTUP_TIMEOUT, and the
        # zygote's READY_TIMEOUT while it imports the libraries for the whole run)
        await km.start_kernel(cwd=str(cwd), env=env, stdout=logf, stderr=logf)
        out.warm = bool(getattr(km.provisioner, "warm", False))
        await client.async_start_new_kernel_client()
        out.timings["kernel_start"] = time.perf_counter() - start
        deadline = asyncio.get_running_loop().call_later(timeout, expire) if timeout else None
        info = await client.async_wait_for_reply(client.kc.kernel_info())
        if info:
            nb.metadata["language_info"] = info["content"].get("language_info", {})
        for n, index in enumerate(code_cells):
            current = index
            await client.async_execute_cell(nb.cells[index], index, execution_count=n + 1)
            out.cells_run = n + 1
    except (Exception, asyncio.CancelledError) as exc:
        # nbclient turns a cancellation into DeadKernelError: tell time-out, interrupt and death apart
        if expired:
            task.uncancel()
            exc = TimeoutError()
        elif task.cancelling() or isinstance(exc, asyncio.CancelledError):
            raise asyncio.CancelledError() from None
        out.error = _error(exc, nb, current, km, timeout, await _alive(km))
    finally:
        if deadline:
            deadline.cancel()
        pid = getattr(getattr(getattr(km, "provisioner", None), "process", None), "pid", None)
        out.peak_mem_mb = _peak_mb(pid)
        _kill_group(km)  # immediately: no graceful shutdown, nothing left behind
        out.wall_s = time.perf_counter() - start
        with contextlib.suppress(Exception):
            if client.kc is not None:
                client.kc.stop_channels()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(_reap(km)), 5)
        if logf:
            logf.close()
    return out


def _error(exc: BaseException, nb: Any, current: int, km: Any, timeout: float | None, alive: bool) -> dict[str, Any]:
    """The record's ``error`` for what stopped the notebook (``current``: the cell running, -1 none)."""
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    cell = current if current >= 0 else None
    source = nb.cells[current].source[:2000] if current >= 0 else ""
    where = f"cell {current}" if current >= 0 else "kernel start-up"
    if isinstance(exc, CellExecutionError):
        return {"cell": cell, "ename": exc.ename, "evalue": str(exc.evalue), "source": source}
    if isinstance(exc, TimeoutError):
        return {"cell": cell, "ename": "Timeout", "source": source,
                "evalue": f"wall-clock limit of {timeout:g} s reached while running {where} "
                          "(raise it with --timeout, or --timeout 0 for none)"}
    if isinstance(exc, DeadKernelError) or not alive:
        return {"cell": cell, "ename": "DeadKernelError", "evalue": f"{_death(km)} while running {where}",
                "source": source}
    return {"cell": cell, "ename": type(exc).__name__, "evalue": str(exc)[:2000], "source": source}


async def _alive(km: Any) -> bool:
    try:
        return bool(await km.is_alive())
    except Exception:
        return False


async def _reap(km: Any) -> None:
    with contextlib.suppress(Exception):
        await km.shutdown_kernel(now=True)
    with contextlib.suppress(Exception):
        await km.cleanup_resources()


async def _pool(items: Sequence[Any], work: Callable[[Any], Awaitable[Any]], jobs: int,
                done: Callable[[Any, Any], None]) -> dict[Any, Any]:
    """Run ``work(item)`` for ``items`` in order, ``jobs`` at a time; Ctrl-C / SIGTERM raise Interrupted."""
    queue = list(items)
    running: dict[asyncio.Task, Any] = {}
    results: dict[Any, Any] = {}
    stop: list[int] = []
    cut: list[Any] = []
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if not stop:
            stop.append(signum)
            for task in running:
                task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (RuntimeError, ValueError, NotImplementedError):  # not the main thread
            pass
    try:
        while (queue or running) and not stop:
            while queue and len(running) < jobs and not stop:
                item = queue.pop(0)
                running[asyncio.ensure_future(work(item))] = item
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                item = running.pop(task)
                if task.cancelled():
                    cut.append(item)
                    continue
                results[item] = task.result()
                done(item, results[item])
        if stop:
            await asyncio.gather(*running, return_exceptions=True)  # their kernels are killed on the way out
            for task, item in running.items():
                if task.cancelled() or task.exception() is not None:
                    cut.append(item)
                else:  # it finished just before the signal: keep it
                    results[item] = task.result()
                    done(item, results[item])
            raise Interrupted(stop[0], cut, queue, results)
        return results
    except BaseException:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def pool(items: Sequence[Any], work: Callable[[Any], Awaitable[Any]], jobs: int,
         done: Callable[[Any, Any], None] = lambda item, result: None) -> dict[Any, Any]:
    """Synchronous front of :func:`_pool` (its own event loop); the caller's signal handlers are kept."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return asyncio.run(_pool(items, work, jobs, done))
    finally:
        for sig, handler in saved.items():
            with contextlib.suppress(ValueError, TypeError):  # not the main thread
                signal.signal(sig, handler)
