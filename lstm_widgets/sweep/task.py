"""What a Dask worker runs for one sweep run: the same headless Trainer as everywhere,
its records streamed to the client through a ``distributed.Queue`` as they are made,
stopped within an epoch when the sweep's ``distributed.Event`` is set."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import asdict

__all__ = ["run_one", "limit_tf_threads"]

_STOP_POLL_S = 0.25


def limit_tf_threads() -> None:
    """Keep this worker's TensorFlow to its share of the cores. The embedded cluster sets
    the thread counts in each worker's environment; on a cluster started by hand, one
    worker per core is assumed when nothing says otherwise. Only takes effect before
    TensorFlow runs its first operation in the process."""
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ..engine._tf import tf

    # A worker builds one Trainer after another; TensorFlow then warns about retracing
    # on every run. A worker's stderr can land in the notebook that started the cluster
    # (ipykernel forwards its process's descriptor 2), so its warnings stay quiet.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)

    try:
        intra = int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0"))
        if intra > 0 and tf.config.threading.get_intra_op_parallelism_threads() != intra:
            tf.config.threading.set_intra_op_parallelism_threads(intra)
        tf.config.threading.set_inter_op_parallelism_threads(int(os.environ["TF_NUM_INTEROP_THREADS"]))
    except RuntimeError:  # TensorFlow already initialised in this worker: keep its pools
        pass


def run_one(data, config: dict, index: int, queue_name: str, stop_name: str) -> dict:
    """Train one run on this worker and return its outcome.

    Streams ``{"run": index, "attempt": token, "kind": ..., ...}`` messages: "begin" (the
    run's first numbers), "record" (one EpochRecord as a dict, each epoch) and "end".
    ``token`` is new for every attempt, so a client can tell a retry from the first try.

    Returns:
        ``{"history": History JSON, "status": final state, "findings": [Finding, ...],
        "worker": address}``.
    """
    from distributed import Event, Queue, get_worker

    limit_tf_threads()
    from ..config import TrainConfig
    from ..diagnosis import diagnose
    from ..engine.trainer import Trainer

    token = uuid.uuid4().hex
    queue = Queue(queue_name)
    stop = Event(stop_name)
    try:
        worker = get_worker().address
    except ValueError:
        worker = ""

    def send(kind: str, **payload) -> None:
        try:
            queue.put({"run": index, "attempt": token, "kind": kind, **payload})
        except Exception:  # the client went away; the result still carries everything
            pass

    cfg = TrainConfig(**config)
    trainer = Trainer(cfg, data)
    send("begin", worker=worker)
    trainer.on_epoch(lambda record: send("record", record=asdict(record)))
    done = threading.Event()

    def watch_stop() -> None:
        while not done.is_set():
            try:
                if stop.wait(timeout=_STOP_POLL_S):
                    trainer.stop(wait=False)
                    return
            except Exception:
                return

    watcher = threading.Thread(target=watch_stop, name="lstm_widgets-sweep-stop", daemon=True)
    if stop.is_set():
        done.set()
        send("end", status="stopped")
        return {"history": trainer.history.to_json(), "status": "stopped", "findings": [], "worker": worker}
    watcher.start()
    try:
        trainer.start()
        trainer.wait()  # re-raises what ended training: the task fails with its message
    finally:
        done.set()
    status = trainer.state
    findings = diagnose(trainer.history, data)
    trainer.close()  # the next run on this worker builds its own model
    send("end", status=status)
    return {"history": trainer.history.to_json(), "status": status, "findings": findings, "worker": worker}
