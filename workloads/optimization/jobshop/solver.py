"""The CP-SAT interval model and the solve loop with limits, hints, improvements and stop.

One interval per operation, ``NoOverlap`` per machine, precedences within a job, the first
operation after the job's release. The search starts from a hint (the caller's, a checkpoint's
solution; otherwise a greedy schedule), whose objective also bounds the model's, and the hinted
schedule is the fallback incumbent: a resumed run never returns worse than its hint.

Rounds: each CP-SAT call runs at most ``limits.round_seconds(elapsed)``; with an
``iteration_seconds`` limit the next round starts from the incumbent until the total limit.
A watchdog thread stops the search (``CpSolver.stop_search``) within 0.1 s of ``stop`` being set
or the no-improvement window closing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from workloads.optimization.errors import ProblemError
from workloads.optimization.jobshop.model import JobShopProblem, Objective
from workloads.optimization.jobshop.schedule import (
    Starts,
    check,
    greedy_starts,
    objective_value,
    solution_from_starts,
    starts_of,
)
from workloads.optimization.limits import TimeLimits
from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason

KIND = "jobshop"

#: How often the watchdog looks at ``stop`` and the no-improvement window.
WATCH_SECONDS = 0.1
#: The quick first round: this share of the total limit, at least the minimum.
QUICK_ROUND_SHARE = 0.1
QUICK_ROUND_MIN_SECONDS = 1.0
#: A round shorter than this is not worth starting.
MIN_ROUND_SECONDS = 0.01


@dataclass
class _Model:
    """The CP-SAT model and the variables read back from it."""

    model: cp_model.CpModel
    starts: list[list[cp_model.IntVar]]
    objective: cp_model.LinearExprT


def build_model(problem: JobShopProblem, horizon: int) -> _Model:
    """The interval model with every start in ``[release + head, horizon - tail]``."""
    model = cp_model.CpModel()
    starts: list[list[cp_model.IntVar]] = []
    ends: list[cp_model.IntVar] = []
    per_machine: list[list[cp_model.IntervalVar]] = [[] for _ in range(problem.machines)]
    for j, job in enumerate(problem.jobs):
        head = job.release
        tail = sum(op.duration for op in job.operations)
        job_starts = []
        previous_end = None
        for k, op in enumerate(job.operations):
            start = model.new_int_var(head, horizon - tail, f"start_{j}_{k}")
            end = model.new_int_var(
                head + op.duration, horizon - tail + op.duration, f"end_{j}_{k}"
            )
            interval = model.new_interval_var(start, op.duration, end, f"op_{j}_{k}")
            per_machine[op.machine].append(interval)
            if previous_end is not None:
                model.add(start >= previous_end)
            previous_end = end
            job_starts.append(start)
            head += op.duration
            tail -= op.duration
        starts.append(job_starts)
        assert previous_end is not None
        ends.append(previous_end)
    for intervals in per_machine:
        if len(intervals) > 1:
            model.add_no_overlap(intervals)
    if problem.objective is Objective.MAKESPAN:
        lower = max(
            max(job.release + sum(op.duration for op in job.operations) for job in problem.jobs),
            max(
                sum(op.duration for job in problem.jobs for op in job.operations if op.machine == m)
                for m in range(problem.machines)
            ),
        )
        makespan = model.new_int_var(min(lower, horizon), horizon, "makespan")
        for end in ends:
            model.add(makespan >= end)
        objective: cp_model.LinearExprT = makespan
    else:
        terms = []
        for j, job in enumerate(problem.jobs):
            if job.due is None:
                continue
            late = model.new_int_var(0, max(0, horizon - job.due), f"tardiness_{j}")
            model.add(late >= ends[j] - job.due)
            weight = job.weight if problem.objective is Objective.WEIGHTED_TARDINESS else 1
            terms.append(weight * late)
        objective = sum(terms)
    model.minimize(objective)
    return _Model(model, starts, objective)


@dataclass
class _Run:
    """What the solve knows so far; shared by the solve loop, the callback and the watchdog."""

    problem: JobShopProblem
    limits: TimeLimits
    on_improvement: Callable[[SolveResult], None]
    stop: threading.Event
    clock_offset: float
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    best_value: int | None = None
    best_starts: Starts | None = None
    bound: float | None = None
    history: list[Improvement] = field(default_factory=list)
    stop_reason: StopReason | None = None
    """Set by the watchdog or the callback when they stop the search (stop or no improvement)."""
    callback_error: BaseException | None = None

    def elapsed(self) -> float:
        """Seconds since the first run's start (``clock_offset`` included)."""
        return self.clock_offset + time.monotonic() - self.started

    def improve(self, value: int, starts: Starts, bound: float | None) -> None:
        """Record a better incumbent and tell ``on_improvement``."""
        with self.lock:
            if self.best_value is not None and value >= self.best_value:
                return
            self.best_value, self.best_starts = value, starts
            if bound is not None:
                self.bound = bound if self.bound is None else max(self.bound, bound)
            self.history.append(Improvement(self.elapsed(), float(value)))
        # An incumbent reported mid-run reads as interrupted: that is what it is if the run
        # ends now (a checkpoint written from it and then a spot interruption).
        self.on_improvement(self.result(SolveStatus.FEASIBLE, StopReason.INTERRUPTED))

    def should_stop(self) -> StopReason | None:
        """INTERRUPTED when ``stop`` is set, NO_IMPROVEMENT when the window has closed."""
        if self.stop.is_set():
            return StopReason.INTERRUPTED
        with self.lock:
            history = list(self.history)
        if self.limits.stop_reason(self.elapsed(), history) is StopReason.NO_IMPROVEMENT:
            return StopReason.NO_IMPROVEMENT
        return None

    def result(self, status: SolveStatus, reason: StopReason) -> SolveResult:
        """The incumbent as a :class:`SolveResult`."""
        with self.lock:
            solution = (
                {}
                if self.best_starts is None
                else solution_from_starts(self.problem, self.best_starts)
            )
            bound = self.bound
            if self.best_value is not None and bound is not None:
                bound = min(bound, float(self.best_value))
            return SolveResult(
                problem=KIND,
                name=self.problem.name,
                status=status,
                stop_reason=reason,
                objective=None if self.best_value is None else float(self.best_value),
                bound=bound,
                elapsed_seconds=self.elapsed(),
                history=list(self.history),
                solution=solution,
            )


class _Incumbents(cp_model.CpSolverSolutionCallback):
    """Reports each better solution with the best bound; stops the search when told to."""

    def __init__(self, run: _Run, built: _Model) -> None:
        super().__init__()
        self._run = run
        self._built = built

    def on_solution_callback(self) -> None:
        """Called by CP-SAT on each new solution (from one of its worker threads)."""
        try:
            value = round(self.objective_value)
            best = self._run.best_value
            if best is None or value < best:
                starts = [[self.value(var) for var in row] for row in self._built.starts]
                self._run.improve(value, starts, self.best_objective_bound)
            reason = self._run.should_stop()
            if reason is not None:
                self._run.stop_reason = self._run.stop_reason or reason
                self.stop_search()
        except BaseException as error:
            self._run.callback_error = error
            self.stop_search()


def solve(
    problem: JobShopProblem,
    limits: TimeLimits,
    *,
    workers: int,
    hint: dict[str, Any] | None,
    on_improvement: Callable[[SolveResult], None],
    stop: threading.Event,
    clock_offset: float = 0.0,
) -> SolveResult:
    """Solve within ``limits`` with CP-SAT on ``workers`` workers; return the incumbent.

    ``hint``: an earlier result's ``solution`` for this problem (a :class:`ProblemError` when it
    does not fit or breaks a constraint). It is the first incumbent, the first point of the
    history (at ``clock_offset``) and an upper bound on the objective, so the result is never
    worse. Without a hint, a greedy schedule plays that part (reported as the first improvement).
    Results passed to ``on_improvement`` are ``FEASIBLE`` with ``StopReason.INTERRUPTED``: what
    they are if the run ends there.
    """
    if workers < 1:
        raise ProblemError(f"workers: must be a positive integer, got {workers!r}")
    run = _Run(problem, limits, on_improvement, stop, clock_offset)
    if hint is not None:
        starts = starts_of(problem, hint)
        violations = check(problem, hint) if starts is not None else ["does not fit the problem"]
        if starts is None or violations:
            raise ProblemError(f"hint: {violations[0]}")
    else:
        starts = greedy_starts(problem)
    run.improve(objective_value(problem, starts), starts, None)

    if problem.objective is Objective.MAKESPAN:
        # Only schedules at least as short as the incumbent are wanted.
        horizon = objective_value(problem, starts)
    else:
        # Left-shifted schedules (never later ends, so never more tardiness) fit in this; the
        # hint's own makespan too, so that it stays a valid assignment.
        horizon = max(
            max(job.release for job in problem.jobs) + problem.total_duration,
            max(job.due or 0 for job in problem.jobs),
            solution_from_starts(problem, starts)["makespan"],
        )
    built = build_model(problem, horizon)

    watching = threading.Event()
    solver_box: list[cp_model.CpSolver] = []

    def watch() -> None:
        while not watching.wait(WATCH_SECONDS):
            reason = run.should_stop()
            if reason is not None and solver_box:
                run.stop_reason = run.stop_reason or reason
                solver_box[-1].stop_search()

    watchdog = threading.Thread(target=watch, name="jobshop-watchdog", daemon=True)
    watchdog.start()
    try:
        return _rounds(run, built, workers, solver_box, hinted=hint is not None)
    finally:
        watching.set()
        watchdog.join()


def _rounds(
    run: _Run, built: _Model, workers: int, solver_box: list[cp_model.CpSolver], hinted: bool
) -> SolveResult:
    first = True
    while True:
        reason = run.should_stop()
        if reason is not None:
            return run.result(SolveStatus.FEASIBLE, reason)
        seconds = run.limits.round_seconds(run.elapsed())
        if seconds < MIN_ROUND_SECONDS:
            return run.result(SolveStatus.FEASIBLE, StopReason.TOTAL_TIME_LIMIT)
        if first:
            seconds = min(seconds, quick_round_seconds(run.limits))
        assert run.best_starts is not None and run.best_value is not None
        built.model.clear_hints()
        if hinted or not first:
            for row_vars, row_values in zip(built.starts, run.best_starts, strict=True):
                for var, value in zip(row_vars, row_values, strict=True):
                    built.model.add_hint(var, value)
        if not first:
            # Only solutions at least as good as the incumbent are worth finding. (Not in the
            # first round: measured slower there; the horizon already bounds the makespan.)
            built.model.add(built.objective <= run.best_value)
        solver = cp_model.CpSolver()
        parameters = solver.parameters
        parameters.num_workers = workers
        parameters.max_time_in_seconds = seconds
        # The stronger disjunctive propagation (off by default) is what proves 10x10 optima on
        # two workers (ft10 in ~8 s, against a bound stuck at 808 after 30 s without), but it
        # slows the first descent: the quick first round runs without it.
        parameters.use_strong_propagation_in_disjunctive = not first
        first = False
        solver_box.append(solver)
        status = solver.solve(built.model, _Incumbents(run, built))
        if run.callback_error is not None:
            raise run.callback_error
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.UNKNOWN):
            bound = solver.best_objective_bound
            with run.lock:
                run.bound = bound if run.bound is None else max(run.bound, bound)
        if status == cp_model.OPTIMAL or status == cp_model.INFEASIBLE:
            # INFEASIBLE under "objective <= incumbent" cannot happen with a feasible incumbent;
            # either way the incumbent is the best there is.
            with run.lock:
                run.bound = float(run.best_value)
            return run.result(SolveStatus.OPTIMAL, StopReason.SOLVED)
        if status == cp_model.MODEL_INVALID:
            raise RuntimeError(f"CP-SAT rejected the model: {built.model.validate()}")
        if run.stop_reason is not None:
            return run.result(SolveStatus.FEASIBLE, run.stop_reason)
        if run.best_value is not None and run.bound is not None and run.bound >= run.best_value:
            return run.result(SolveStatus.OPTIMAL, StopReason.SOLVED)


def quick_round_seconds(limits: TimeLimits) -> float:
    """The first round's length: a tenth of the total limit, at least a second.

    The first round is CP-SAT's default search (without the greedy hint, which slows its
    descent on easy instances): most 10x5 instances are solved there. Later rounds start from
    its incumbent with the stronger propagation that proves the harder ones.
    """
    return max(QUICK_ROUND_MIN_SECONDS, QUICK_ROUND_SHARE * limits.total_seconds)
