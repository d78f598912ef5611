"""Where a sweep runs: an embedded Dask LocalCluster sized to this machine's cores and to
the memory this process may really use (its cgroup limit on Binder or in a container), or
a cluster the user names by address or hands over as a ``distributed.Client``."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

__all__ = ["ClusterPlan", "plan_local_cluster", "local_client", "resolve_client", "close_local_cluster",
           "warm_up", "WORKER_PEAK_BYTES"]

#: Resident memory of a worker process training one run: TensorFlow loaded and one
#: Trainer built (DESIGN.md: a worker that trains one run peaks at ~760 MB; rounded up).
WORKER_PEAK_BYTES = 800 * 2**20
#: Kept free beside the kernel and the workers (the scheduler, the data sent, headroom).
MARGIN_BYTES = 200 * 2**20
#: Dask's default lets a task be rescheduled three times after the workers running it
#: died; a sweep retries a run once, then marks it failed (a run that kills its worker
#: twice would likely do it again).
ALLOWED_FAILURES = 1

_lock = threading.Lock()
_local: dict = {}


@dataclass(frozen=True)
class ClusterPlan:
    """How many worker processes an embedded LocalCluster gets, and why.

    Attributes:
        n_workers: Worker processes, one run at a time each.
        tf_threads: TensorFlow's intra-op threads inside each worker.
        cores: The CPU cores this process may use.
        memory_limit: The memory this process may use, in bytes (cgroup-aware).
        reason: One sentence for the display: what was chosen and why.
    """

    n_workers: int
    tf_threads: int
    cores: int
    memory_limit: int
    reason: str


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def plan_local_cluster(memory_limit: int | None = None, cores: int | None = None,
                       kernel_bytes: int | None = None) -> ClusterPlan:
    """The embedded cluster for this machine: one worker per core, as many as fit in the
    memory left beside this process (at least one).

    Args:
        memory_limit: Bytes this process may use. Defaults to Dask's reading of the
            machine and its cgroup limit (``distributed.system.MEMORY_LIMIT``).
        cores: CPU cores available. Defaults to this process's CPU affinity.
        kernel_bytes: What this process (the kernel) holds now. Defaults to its resident
            memory.
    """
    if memory_limit is None:
        from distributed.system import MEMORY_LIMIT

        memory_limit = int(MEMORY_LIMIT)
    cores = _cores() if cores is None else int(cores)
    kernel = _rss() if kernel_bytes is None else int(kernel_bytes)
    free = memory_limit - kernel - MARGIN_BYTES
    fit = max(0, free // WORKER_PEAK_BYTES)
    n = max(1, min(cores, fit))
    gb = memory_limit / 2**30
    if fit >= cores:
        reason = f"{n} worker process{'es' if n > 1 else ''}, one per CPU core ({cores} cores, {gb:.1f} GB of memory)."
    elif fit >= 1:
        reason = (f"{n} worker process{'es' if n > 1 else ''} for {cores} cores: each needs about "
                  f"{WORKER_PEAK_BYTES / 2**20:.0f} MB and {gb:.1f} GB is the limit here, with this kernel "
                  f"holding {kernel / 2**20:.0f} MB.")
    else:
        reason = (f"1 worker process: the memory limit ({gb:.1f} GB, this kernel holding {kernel / 2**20:.0f} MB) "
                  f"leaves less than the ~{WORKER_PEAK_BYTES / 2**20:.0f} MB a worker needs; it may run out of memory.")
    return ClusterPlan(int(n), max(1, cores // n), cores, int(memory_limit), reason)


def worker_env(tf_threads: int) -> dict[str, str]:
    """Environment of a worker process: TensorFlow's thread pools limited so the workers
    share the cores instead of each taking all of them, and TensorFlow's start-up notices
    kept out of the notebook."""
    return {
        "TF_NUM_INTRAOP_THREADS": str(tf_threads),
        "TF_NUM_INTEROP_THREADS": "1",
        "OMP_NUM_THREADS": str(tf_threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "KERAS_BACKEND": "tensorflow",
    }


def local_client():
    """The embedded LocalCluster's client, started on first use and reused (closed at
    exit or by :func:`close_local_cluster`). Returns ``(client, plan)``."""
    with _lock:
        client = _local.get("client")
        if client is not None and client.status == "running":
            return client, _local["plan"]
        import dask
        from distributed import Client, LocalCluster

        plan = plan_local_cluster()
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            cluster = LocalCluster(
                n_workers=plan.n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=logging.ERROR, env=worker_env(plan.tf_threads),
                memory_limit=0,  # TensorFlow's memory is not Dask's to spill; the plan sized it
            )
            client = Client(cluster, set_as_default=False)
        _local.update(client=client, cluster=cluster, plan=plan)
        return client, plan


def _import_tensorflow() -> bool:
    from .task import limit_tf_threads

    limit_tf_threads()
    return True


def warm_up(client) -> None:
    """Load TensorFlow in every worker now (a few seconds each, in parallel) rather than
    in each worker's first run."""
    client.run(_import_tensorflow)


def close_local_cluster() -> None:
    """Stop the embedded LocalCluster and its worker processes, if one was started."""
    with _lock:
        client, cluster = _local.pop("client", None), _local.pop("cluster", None)
        _local.pop("plan", None)
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def resolve_client(client):
    """``(client, description, plan, owned)`` for a Sweep's ``client=`` argument: None
    (the embedded LocalCluster), an address such as ``"tcp://127.0.0.1:8786"``, or a
    ``distributed.Client``. ``owned``: the client was opened here for an address, and the
    sweep closes it when it ends."""
    from distributed import Client

    if client is None:
        c, plan = local_client()
        return c, f"Local Dask cluster: {plan.reason}", plan, False
    if isinstance(client, Client):
        return client, f"Dask cluster at {client.scheduler.address}.", None, False
    if isinstance(client, str):
        try:
            c = Client(client, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise ValueError(
                f"client={client!r}: no Dask scheduler answered there ({exc}). Start one with "
                f"`dask scheduler` and workers with `dask worker {client}`, or pass client=None for a "
                f"local cluster."
            ) from None
        return c, f"Dask cluster at {client}.", None, True
    raise ValueError(
        f"client must be None (a local cluster), a scheduler address like 'tcp://127.0.0.1:8786', or a "
        f"distributed.Client; got {type(client).__name__}."
    )
