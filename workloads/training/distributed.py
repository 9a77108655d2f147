"""Data-parallel training across processes: the process group and the few collectives we need.

Launch with ``torchrun`` (``torchrun --nproc-per-node 2 -m <entrypoint> ...``): it starts one
process per device and sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT``. When ``WORLD_SIZE`` is above 1, :func:`distributed_context` joins the process
group (NCCL on CUDA, one device per process chosen by ``LOCAL_RANK``; gloo on CPU) and leaves it
at the end; otherwise it describes a single process and touches nothing. The training loop wraps
its model in ``DistributedDataParallel`` (gradients averaged across processes every step).

On SageMaker, a multi-instance job on AWS's PyTorch training container launches ``torchrun`` for
us: set the estimator's ``distribution={"torch_distributed": {"enabled": True}}`` (the
container's ``torch_distributed`` option) and it runs the entry point under ``torchrun`` on every
instance with the ranks and rendezvous already set. Our own image does the same by making
``torchrun`` its entry point.

What every rank must agree on, and how this module makes it so:

- data order: every rank draws the same permutation from the same seeded generator and takes
  an equal-sized shard of it (:func:`shard`), so every rank runs the same number of batches and
  no rank waits forever in a gradient all-reduce the others never start;
- early stopping: the epoch's training loss is summed across ranks, validation scores are
  gathered from row shards, rank 0 computes the metrics and broadcasts them;
- stopping on SIGTERM: a rank that got the signal votes to stop; the votes are OR-ed across
  ranks (:class:`StopVote`) so all ranks stop at the same batch boundary. Under ``torchrun`` the
  launcher forwards SIGTERM to every worker and kills them after its ``--shutdown-timeout``
  (``TORCH_ELASTIC_SHUTDOWN_TIMEOUT``, 30 s by default): keep that below SageMaker's ~120 s
  notice and above the time a final checkpoint takes.

Only rank 0 writes checkpoints, shows progress and reports metrics (``is_primary``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits: its rank, the world size and its device."""

    rank: int = 0
    """This process's rank; 0 is the primary."""
    world_size: int = 1
    """How many processes train together; 1 is a plain single-process run."""
    local_rank: int = 0
    """The rank on this machine: which CUDA device this process uses."""
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    """The device the model and the data live on."""
    backend: str | None = None
    """``nccl`` or ``gloo`` when distributed, ``None`` otherwise."""
    control_group: Any = None
    """A gloo group for small CPU-side collectives (stop votes, metrics), so they never wait
    behind, or get in the way of, the gradient all-reduces of the main group."""

    @property
    def is_distributed(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def is_primary(self) -> bool:
        """Whether this process writes checkpoints, shows progress and reports metrics."""
        return self.rank == 0


def _env_int(environ: Mapping[str, str], name: str, default: str | None = None) -> int:
    value = environ.get(name, default)
    if value is None:
        raise RuntimeError(f"{name} is not set; launch distributed training with torchrun")
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f"{name} must be an integer, not {value!r}") from None


def default_device(local_rank: int = 0) -> torch.device:
    """``cuda:<local_rank>`` when CUDA is available, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


@contextmanager
def distributed_context(environ: Mapping[str, str] | None = None) -> Iterator[DistributedContext]:
    """Where this process sits in training; joins and leaves the process group under torchrun.

    A process group that the caller already initialised is used as is and left for the caller
    to destroy.
    """
    environ = os.environ if environ is None else environ
    world_size = _env_int(environ, "WORLD_SIZE", "1")
    if world_size <= 1:
        yield DistributedContext(device=default_device())
        return
    rank = _env_int(environ, "RANK")
    local_rank = _env_int(environ, "LOCAL_RANK")
    device = default_device(local_rank)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group(
            backend=backend,
            store=_fresh_store(rank, world_size),
            rank=rank,
            world_size=world_size,
            device_id=device if device.type == "cuda" else None,
        )
    try:
        # Every rank creates the group, in the same order: new_group is itself a collective.
        control = dist.new_group(backend="gloo")
        yield DistributedContext(
            rank=rank,
            world_size=world_size,
            local_rank=local_rank,
            device=device,
            backend=backend,
            control_group=control,
        )
    finally:
        if owned:
            dist.destroy_process_group()


class _Rendezvous:
    """The rendezvous store of this process, and how many process groups it has served."""

    store: Any = None
    groups = 0


def _fresh_store(rank: int, world_size: int) -> Any:
    """The rendezvous store under a key prefix no earlier process group of this process used.

    torch names a process group's store keys after a group counter that
    ``destroy_process_group`` resets, so a second ``init_process_group`` in the same process
    (a second training, as in AutoML) would read the first one's stale addresses and fail to
    connect. Every rank trains the same number of times, so a counter gives every rank the same
    fresh prefix. The base store is made once: under torchrun it is a client of the launcher's
    store; without torchrun, rank 0 serves it on ``MASTER_PORT`` and cannot bind it twice.
    """
    if _Rendezvous.store is None:
        _Rendezvous.store, _, _ = next(dist.rendezvous("env://", rank, world_size))
    _Rendezvous.groups += 1
    return dist.PrefixStore(f"ml-platform-training-{_Rendezvous.groups}", _Rendezvous.store)


def shard(permutation: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """The calling rank's equal share of a permutation (the ``len % world_size`` rest is dropped).

    Equal shares give every rank the same number of batches; the dropped rows differ from epoch
    to epoch because the permutation does.
    """
    if not context.is_distributed:
        return permutation
    size = len(permutation) // context.world_size
    return permutation[context.rank * size : (context.rank + 1) * size]


def row_range(rows: int, context: DistributedContext) -> tuple[int, int]:
    """The calling rank's contiguous ``[start, stop)`` of ``rows`` rows (sizes differ by <= 1)."""
    base, extra = divmod(rows, context.world_size)
    start = context.rank * base + min(context.rank, extra)
    return start, start + base + (context.rank < extra)


def gather_rows(part: torch.Tensor, rows: int, context: DistributedContext) -> torch.Tensor:
    """Every rank's ``row_range`` part of a ``rows``-row tensor, concatenated on every rank."""
    if not context.is_distributed:
        return part
    # all_gather needs equal shapes: pad each part to the largest, then trim.
    largest = -(-rows // context.world_size)
    padded = torch.zeros((largest, *part.shape[1:]), dtype=part.dtype, device=part.device)
    padded[: len(part)] = part
    parts = [torch.empty_like(padded) for _ in range(context.world_size)]
    dist.all_gather(parts, padded)
    sizes = [
        stop - start
        for start, stop in (
            row_range(rows, DistributedContext(rank=r, world_size=context.world_size))
            for r in range(context.world_size)
        )
    ]
    return torch.cat([gathered[:size] for gathered, size in zip(parts, sizes, strict=True)])


def sum_across(values: torch.Tensor, context: DistributedContext) -> torch.Tensor:
    """The element-wise sum of ``values`` over all ranks (in place; ``values`` itself alone)."""
    if context.is_distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def broadcast_from_primary(value: Any, context: DistributedContext) -> Any:
    """Rank 0's ``value`` on every rank (small picklable objects: metrics, a loaded state)."""
    if not context.is_distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, group=context.control_group)
    return box[0]


def gather_to_all(value: Any, context: DistributedContext) -> list[Any]:
    """Every rank's ``value``, in rank order, on every rank (small picklable objects)."""
    if not context.is_distributed:
        return [value]
    values: list[Any] = [None] * context.world_size
    dist.all_gather_object(values, value, group=context.control_group)
    return values


class StopVote:
    """Agree across ranks on whether to stop, once per batch boundary, without a stall.

    Each call starts an asynchronous OR of the ranks' flags on the control group and returns
    the result of the previous call's vote, which has had a whole batch to complete: every rank
    gets the same answer at the same boundary, one batch after the first rank asked. A single
    process answers at once.
    """

    def __init__(self, context: DistributedContext) -> None:
        self._context = context
        self._flag = torch.zeros(1, dtype=torch.int32)
        self._pending: Any = None

    def __call__(self, wanted: bool) -> bool:
        """Cast this rank's vote; True when the ranks agree to stop here."""
        if not self._context.is_distributed:
            return wanted
        if self._pending is not None:
            self._pending.wait()
            self._pending = None
            if self._flag.item():
                return True  # every rank sees the same result: none starts another vote
        self._flag.fill_(int(wanted))
        self._pending = dist.all_reduce(
            self._flag, op=dist.ReduceOp.MAX, group=self._context.control_group, async_op=True
        )
        return False

    def close(self) -> None:
        """Wait for the vote in flight, so no collective outlives the loop."""
        if self._pending is not None:
            self._pending.wait()
            self._pending = None
