r"""The optimization entry point: solve one problem, or many in parallel within a budget.

Locally (``python -m workloads.optimization``, ``ml-platform optimize`` or the
``ml-platform-optimize`` alias)::

    python -m workloads.optimization solve --kind jobshop --problem ft06.txt --out build/ft06 \
        [--total-seconds 60] [--iteration-seconds S] [--no-improvement-seconds S] \
        [--min-improvement 0.001] [--workers N] [--checkpoint-dir DIR] [--checkpoint-seconds 5] \
        [--tracking-uri URI --experiment NAME]
    python -m workloads.optimization solve-batch --kind routing --problems 'cvrp/*.vrp' \
        --total-seconds 600 --parallel 2 --out build/batch

In a SageMaker training job (``hyperparameters.json`` exists) ``solve`` takes everything from
the contract instead (:mod:`workloads.optimization.contract`) and the arguments are ignored.

A solve resumes from the newest valid checkpoint (:mod:`workloads.optimization.checkpoints`),
solves in a worker thread while the main thread handles SIGTERM and the periodic checkpoints
(:mod:`workloads.optimization.spot`), then writes ``solution.json`` and ``report.html`` and
prints its metrics on stdout as ``name=value`` lines (objective, bound, gap, elapsed_seconds,
seconds_to_first, seconds_to_best, improvements; a figure that is unknown is left out). Notes go
to stderr.

Exit status: 0 with a solution, or when SIGTERM stopped the run after its checkpoint was
written; 1 without a solution (none found in time, or proven infeasible), or a solution the
independent check rejects; 2 for bad input (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workloads.optimization import problems
from workloads.optimization.checkpoints import (
    Checkpoint,
    CheckpointFolder,
    CheckpointWriter,
    fingerprint,
    has_solution,
)
from workloads.optimization.contract import (
    DEFAULT_MIN_IMPROVEMENT,
    DEFAULT_TOTAL_SECONDS,
    SOLUTION_FILE,
    SolveJob,
    default_workers,
    job_from_sagemaker,
    make_limits,
    positive_seconds,
    say,
)
from workloads.optimization.errors import ProblemError
from workloads.optimization.report import REPORT_FILE, write_report
from workloads.optimization.results import Improvement, SolveResult, SolveStatus, StopReason
from workloads.optimization.spot import SolveStop, ignore_sigterm, run_in_thread
from workloads.training.contract import SageMakerEnvironment

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_PROGRAM = "ml-platform-optimize"
"""The program name in usage lines (``ml-platform optimize`` when run through the one CLI)."""
STOP_GRACE_SECONDS = 60.0
"""How long a solver may take to return after SIGTERM before its last incumbent is saved anyway."""

Note = Callable[[str], None]


@dataclasses.dataclass
class Outcome:
    """What one solve produced."""

    result: SolveResult
    """The incumbent, merged with the checkpoint it resumed from."""
    violations: list[str] | None
    """The independent check's findings (None without a solution)."""
    files: list[Path]
    """Every file written (solution.json and report.html per output directory)."""
    checkpoint: Path | None
    """The last checkpoint written (None when checkpoints are off)."""
    interrupted: bool
    """SIGTERM (or Ctrl-C) stopped the solve."""


def merge(prior: SolveResult | None, new: SolveResult) -> SolveResult:
    """``new``, never worse than ``prior`` (the checkpoint a run resumed from).

    The history continues the prior's: the new run's points count only where they improve on
    it. A better prior incumbent is kept with the new run's stop reason, clock and bound (a
    bound holds for the problem, whichever run proved it).
    """
    if prior is None or not has_solution(prior):
        return new
    assert prior.objective is not None
    history = list(prior.history)
    best = prior.objective
    for point in new.history:
        if point.objective < best:
            history.append(
                Improvement(
                    max(point.seconds, history[-1].seconds if history else 0), point.objective
                )
            )
            best = point.objective
    elapsed = max(new.elapsed_seconds, prior.elapsed_seconds)
    if has_solution(new) and new.objective is not None and new.objective <= prior.objective:
        return dataclasses.replace(new, history=history, elapsed_seconds=elapsed)
    bound = new.bound if new.bound is not None else prior.bound
    status = prior.status
    if bound is not None and bound >= prior.objective:
        status = SolveStatus.OPTIMAL
    return dataclasses.replace(
        prior,
        status=status,
        stop_reason=new.stop_reason,
        bound=bound,
        elapsed_seconds=elapsed,
        history=history,
    )


def resume_point(folder: CheckpointFolder | None, note: Note) -> Checkpoint | None:
    """The checkpoint to resume from (notes name every skipped one), else None."""
    if folder is None:
        return None
    found = folder.newest(note)
    if found is not None:
        objective = found.result.objective
        note(
            f"resuming from checkpoint {found.path.name}: "
            + (f"objective {objective:g}" if objective is not None else "no solution yet")
            + f" after {found.elapsed_seconds:.1f} s"
        )
    return found


def solve(job: SolveJob, stop: SolveStop, note: Note = say) -> Outcome:
    """Load, resume, solve, checkpoint, check and write one problem's solution and report."""
    module = problems.problem_module(job.kind)
    if not job.problem.is_file():
        raise ProblemError(f"{job.problem}: no such problem file")
    problem = module.load(job.problem)
    summary = dict(module.summary(problem))
    folder = (
        CheckpointFolder(job.checkpoint_dir, job.kind, fingerprint(problem))
        if job.checkpoint_dir is not None
        else None
    )
    resumed = resume_point(folder, note)
    prior = resumed.result if resumed is not None else None
    offset = resumed.elapsed_seconds if resumed is not None else 0.0
    tracker = _start_tracking(job, summary)
    result: SolveResult | None = None
    try:
        result, last_checkpoint = _solve(job, module, problem, stop, folder, prior, offset, note)
        violations = list(module.check(problem, result.solution)) if has_solution(result) else None
        figure = _figure(module, problem, result, note) if has_solution(result) else None
        files = write_outputs(job.out_dirs, result, summary, violations, figure)
        if tracker is not None:
            tracker.log_result(result, files[:2])
    finally:
        if tracker is not None:
            tracker.finish(result)
    return Outcome(
        result=result,
        violations=violations,
        files=files,
        checkpoint=last_checkpoint,
        interrupted=stop.requested,
    )


def _solve(
    job: SolveJob,
    module: problems.ProblemModule,
    problem: Any,
    stop: SolveStop,
    folder: CheckpointFolder | None,
    prior: SolveResult | None,
    offset: float,
    note: Note,
) -> tuple[SolveResult, Path | None]:
    start = time.monotonic()

    def clock() -> float:
        return offset + time.monotonic() - start

    writer = CheckpointWriter(folder, clock, job.checkpoint_seconds) if folder else None
    if prior is not None and prior.status is SolveStatus.OPTIMAL:
        note("the checkpoint's solution is proven optimal: nothing left to solve")
        result = dataclasses.replace(prior, stop_reason=StopReason.SOLVED)
    elif prior is not None and offset >= job.limits.total_seconds:
        note(f"the total time limit ({job.limits.total_seconds:g} s) was used up before")
        result = dataclasses.replace(prior, stop_reason=StopReason.TOTAL_TIME_LIMIT)
    else:
        latest: list[SolveResult] = []

        def on_improvement(improved: SolveResult) -> None:
            latest[:] = [improved]
            if writer is not None:
                writer.offer(merge(prior, improved))

        hint = prior.solution if prior is not None and has_solution(prior) else None
        value, error = run_in_thread(
            lambda: module.solve(
                problem,
                job.limits,
                workers=job.workers,
                hint=hint,
                on_improvement=on_improvement,
                stop=stop.event,
                clock_offset=offset,
            ),
            stop=stop,
            every_poll=writer.tick if writer is not None else lambda: None,
            grace_seconds=STOP_GRACE_SECONDS,
        )
        if error is not None:
            raise error
        if value is None:  # the solver did not return within the grace after SIGTERM
            note(f"the solver did not stop within {STOP_GRACE_SECONDS:g} s; saving its incumbent")
            value = latest[0] if latest else _nothing_yet(module, problem, job)
            value = dataclasses.replace(
                value, stop_reason=StopReason.INTERRUPTED, elapsed_seconds=clock()
            )
        result = merge(prior, value)
    last = writer.final(result) if writer is not None else None
    if last is not None and stop.requested:
        note(f"checkpoint {last} written: a rerun resumes from it")
    return result, last


def _nothing_yet(module: problems.ProblemModule, problem: Any, job: SolveJob) -> SolveResult:
    name = str(module.summary(problem).get("name", job.problem.stem))
    return SolveResult(
        problem=job.kind,
        name=name,
        status=SolveStatus.NO_SOLUTION,
        stop_reason=StopReason.INTERRUPTED,
    )


def _figure(
    module: problems.ProblemModule, problem: Any, result: SolveResult, note: Note
) -> str | None:
    try:
        return module.figure_svg(problem, result.solution)
    except Exception as error:  # a picture must not cost the solution
        note(f"no figure in the report: {type(error).__name__}: {error}")
        return None


def solution_document(
    result: SolveResult, summary: dict[str, Any], violations: list[str] | None
) -> dict[str, Any]:
    """``solution.json``: the result's fields, the instance's summary and the check's verdict."""
    check = None if violations is None else {"feasible": not violations, "violations": violations}
    return {**result.to_dict(), "summary": summary, "check": check}


def write_outputs(
    out_dirs: Sequence[Path],
    result: SolveResult,
    summary: dict[str, Any],
    violations: list[str] | None,
    figure: str | None,
) -> list[Path]:
    """``solution.json`` and ``report.html`` in each output directory (written atomically)."""
    from workloads.atomic_files import write_atomically

    text = json.dumps(solution_document(result, summary, violations), indent=2) + "\n"
    files: list[Path] = []
    for directory in out_dirs:
        solution = directory / SOLUTION_FILE
        write_atomically(solution, lambda path: path.write_text(text, encoding="utf-8"))
        files.append(solution)
        files.append(write_report(directory / REPORT_FILE, result, summary, violations, figure))
    return files


def _start_tracking(job: SolveJob, summary: dict[str, Any]) -> Any:
    if not job.tracking_uri:
        return None
    from workloads.optimization.tracking import SolveTracker, params_of

    limits = job.limits
    tracker = SolveTracker.start(
        job.tracking_uri,
        job.experiment,
        run_name=f"{job.kind}-{summary.get('name', job.problem.stem)}",
        params=params_of(
            {
                "kind": job.kind,
                "problem": job.problem.name,
                "total_seconds": limits.total_seconds,
                "iteration_seconds": limits.iteration_seconds,
                "no_improvement_seconds": limits.no_improvement_seconds,
                "min_improvement": limits.min_relative_improvement,
                "workers": job.workers,
            }
        ),
        tags={"ml_platform.problem_kind": job.kind, **job.tags},
    )
    say(f"tracking in MLflow run {tracker.run_id} at {job.tracking_uri}")
    return tracker


def print_metrics(result: SolveResult) -> None:
    """The metrics as ``name=value`` lines on stdout (the tuning regexes' stable names)."""
    for name, value in result.metrics().items():
        # Ten significant digits: a large objective keeps its units, a time its milliseconds.
        print(f"{name}={value:.0f}" if float(value).is_integer() else f"{name}={value:.10g}")
    sys.stdout.flush()


def exit_status(outcome: Outcome, note: Note = say) -> int:
    """The exit status of a finished solve, with its one-line verdict on stderr."""
    result = outcome.result
    if has_solution(result):
        if outcome.violations:
            note(
                f"the solution breaks {len(outcome.violations)} constraint(s), first: "
                f"{outcome.violations[0]}"
            )
            return EXIT_FAILED
        gap = result.gap
        note(
            f"{result.status.value} solution, objective {result.objective:g}"
            + (f", gap {100 * gap:.2f} %" if gap is not None else "")
            + f" ({result.stop_reason.value})"
        )
        return EXIT_OK
    if outcome.interrupted and outcome.checkpoint is not None:
        note("interrupted before a first solution; the checkpoint keeps the time spent")
        return EXIT_OK
    if result.status is SolveStatus.INFEASIBLE:
        note(f"infeasible: {result.problem} {result.name} has no solution (proven)")
        return EXIT_FAILED
    note(f"no solution found ({result.stop_reason.value})")
    return EXIT_FAILED


_EXAMPLES = """\
examples:
  {prog} solve --kind jobshop --problem ft06.txt --total-seconds 30 --out build/ft06
  {prog} solve --kind routing --problem A-n32-k5.vrp --total-seconds 60 \\
      --no-improvement-seconds 10 --checkpoint-dir build/ckpt --out build/a-n32
  {prog} solve-batch --kind jobshop --problems 'instances/*.txt' --total-seconds 300 \\
      --parallel 2 --out build/batch

exit status: 0 solution found (or stopped by SIGTERM after a checkpoint), 1 no solution,
infeasible or a solution that fails its check, 2 bad input
"""


def _seconds_type(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_limits(parser: argparse.ArgumentParser, *, total_help: str) -> None:
    parser.add_argument(
        "--total-seconds",
        type=_seconds_type,
        metavar="SECONDS",
        default=DEFAULT_TOTAL_SECONDS,
        help=total_help,
    )
    parser.add_argument(
        "--iteration-seconds",
        type=_seconds_type,
        metavar="SECONDS",
        help="one round's limit (a routing portfolio round, one CP-SAT call); default: no limit",
    )
    parser.add_argument(
        "--no-improvement-seconds",
        type=_seconds_type,
        metavar="SECONDS",
        help="stop when the objective has not improved by more than --min-improvement within "
        "this window; default: never",
    )
    parser.add_argument(
        "--min-improvement",
        type=float,
        metavar="SHARE",
        default=DEFAULT_MIN_IMPROVEMENT,
        help="relative improvement that counts in the window (default: %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="parallel solver workers (default: the CPUs available; in a batch, 1 each)",
    )
    parser.add_argument(
        "--checkpoint-dir",
        type=Path,
        metavar="DIR",
        help="checkpoint the incumbent here and resume from it (a batch: one folder per instance)",
    )
    parser.add_argument(
        "--checkpoint-seconds",
        type=_seconds_type,
        metavar="SECONDS",
        default=5.0,
        help="at most one checkpoint per this many seconds (default: %(default)s)",
    )


def build_parser(prog: str = DEFAULT_PROGRAM) -> argparse.ArgumentParser:
    """The local command line: ``solve`` and ``solve-batch``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Solve vehicle routing and job-shop scheduling problems with OR-Tools,\n"
        "spot-safe (checkpoints, SIGTERM) and within multi-level time limits. In a SageMaker\n"
        "training job the arguments are ignored: everything comes from the container contract.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EXAMPLES.format(prog=prog),
    )
    commands = parser.add_subparsers(dest="command", metavar="{solve,solve-batch}")
    commands.required = True
    one = commands.add_parser(
        "solve",
        help="solve one problem",
        description="Solve one problem: resume from the newest valid checkpoint, write\n"
        "solution.json and report.html, print the metrics as name=value lines.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EXAMPLES.format(prog=prog),
    )
    one.add_argument(
        "--kind", required=True, metavar="KIND", help="the problem kind: routing or jobshop"
    )
    one.add_argument("--problem", type=Path, required=True, metavar="FILE", help="the problem file")
    _add_limits(one, total_help="the whole run's limit, resumed runs included (default: 60)")
    one.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where solution.json and report.html go (default: build/"
        "optimization/<kind>-<file name>)",
    )
    one.add_argument("--tracking-uri", metavar="URI", help="MLflow (default: $MLFLOW_TRACKING_URI)")
    one.add_argument(
        "--experiment", metavar="NAME", help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME)"
    )
    many = commands.add_parser(
        "solve-batch",
        help="solve many problems in parallel processes within one budget",
        description="Solve every problem in a directory (or matching a glob) in parallel\n"
        "processes within one time budget, each getting a fair share; one result folder per\n"
        "instance and a summary (summary.json, and a table or --json on stdout).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EXAMPLES.format(prog=prog),
    )
    many.add_argument(
        "--kind", required=True, metavar="KIND", help="the problem kind: routing or jobshop"
    )
    many.add_argument(
        "--problems",
        required=True,
        metavar="DIR|GLOB",
        help="a directory (every file in it) or a glob pattern",
    )
    _add_limits(many, total_help="the whole batch's budget, shared fairly (default: 60)")
    many.add_argument(
        "--parallel",
        type=_positive_int,
        default=1,
        metavar="P",
        help="instances solved at once (default: 1)",
    )
    many.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=Path("build/optimization/batch"),
        help="one folder per instance and summary.json (default: %(default)s)",
    )
    many.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def job_from_arguments(arguments: argparse.Namespace) -> SolveJob:
    """The solve the ``solve`` command line describes."""
    limits = limits_from_arguments(arguments)
    positive_seconds("--checkpoint-seconds", arguments.checkpoint_seconds)
    out = arguments.out or Path("build/optimization") / f"{arguments.kind}-{arguments.problem.stem}"
    return SolveJob(
        kind=arguments.kind,
        problem=arguments.problem,
        limits=limits,
        workers=arguments.workers or default_workers(),
        out_dirs=(out,),
        checkpoint_dir=arguments.checkpoint_dir,
        checkpoint_seconds=arguments.checkpoint_seconds,
        tracking_uri=arguments.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI", ""),
        experiment=arguments.experiment or "",
    )


def limits_from_arguments(arguments: argparse.Namespace) -> Any:
    """The :class:`TimeLimits` of the command line (errors name the option)."""
    return make_limits(
        arguments.total_seconds,
        arguments.iteration_seconds,
        arguments.no_improvement_seconds,
        arguments.min_improvement,
        names={
            "total_seconds": "--total-seconds",
            "iteration_seconds": "--iteration-seconds",
            "no_improvement_seconds": "--no-improvement-seconds",
            "min_relative_improvement": "--min-improvement",
        },
    )


def run_solve(job: SolveJob, stop: SolveStop, *, in_job: bool = False) -> int:
    """Solve ``job``, print its metrics and verdict; the exit status.

    ``in_job``: the contract's run, where ``ML_PLATFORM_CHECKPOINT_S3_URI`` (a Kubernetes Job,
    which nothing syncs for) has the checkpoints uploaded as they are written and at the end,
    by the training code's :class:`~workloads.training.s3_sync.SyncedOutputs`.
    """
    if in_job and job.checkpoint_dir is not None:
        from workloads.training.s3_sync import SyncedOutputs

        with SyncedOutputs.from_environ(
            checkpoint_dir=job.checkpoint_dir, model_dir=job.out_dirs[0]
        ):
            outcome = solve(job, stop)
    else:
        outcome = solve(job, stop)
    print_metrics(outcome.result)
    for directory in job.out_dirs:
        say(f"solution and report in {directory}")
    return exit_status(outcome)


def _program() -> str:
    # Through the one CLI, runners.run_entry_point sets argv[0] to "ml-platform optimize".
    first = sys.argv[0] if sys.argv else ""
    return first if first.startswith("ml-platform ") else DEFAULT_PROGRAM


EXPECTED_ERRORS: tuple[type[Exception], ...] = (ProblemError,)
"""Bad input: one line, exit 2."""


def main(argv: Sequence[str] | None = None, stop: SolveStop | None = None) -> int:
    """Run one command; the exit status (see the module docstring).

    ``stop`` is the process's stop request (:func:`command` passes it); without one, a fresh
    request that nothing signals (tests, or a caller with its own handling).
    """
    from workloads.training.s3_sync import S3SyncError
    from workloads.training.tracking import TrackingUnavailable

    stop = stop or SolveStop()
    prog = _program()
    arguments_list = list(sys.argv[1:] if argv is None else argv)
    environment = SageMakerEnvironment.detect()
    try:
        if environment is not None:
            if arguments_list:
                say(
                    "SageMaker training job: ignoring the command-line arguments "
                    "(hyperparameters.json is read instead)"
                )
            return run_solve(job_from_sagemaker(environment), stop, in_job=True)
        parser = build_parser(prog)
        try:
            arguments = parser.parse_args(arguments_list)
        except SystemExit as exit_request:  # argparse: usage errors and --help
            return exit_request.code if isinstance(exit_request.code, int) else EXIT_BAD_INPUT
        if arguments.command == "solve-batch":
            from workloads.optimization.batch import run_batch

            return run_batch(arguments, limits_from_arguments(arguments), stop)
        return run_solve(job_from_arguments(arguments), stop)
    except EXPECTED_ERRORS as error:
        reason, status = str(error), EXIT_BAD_INPUT
    except (TrackingUnavailable, S3SyncError) as error:
        reason, status = str(error), EXIT_FAILED
    except Exception as error:  # anything else: the traceback helps, the reason stays short
        traceback.print_exc()
        reason, status = f"{type(error).__name__}: {error}", EXIT_FAILED
    say(f"{prog}: error: {reason}")
    if environment is not None:
        environment.write_failure(reason)
    return status


def command() -> int:
    """The process's entry point: :func:`main` with SIGTERM and Ctrl-C caught for good."""
    status = main(stop=SolveStop.for_process())
    ignore_sigterm()
    return status
