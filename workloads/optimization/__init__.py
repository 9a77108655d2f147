"""Optimization workloads on OR-Tools: vehicle routing and job-shop scheduling.

Each problem kind has a typed input model with readers for the standard formats, a solver that
stops at any of the limits in :mod:`workloads.optimization.limits` with the best solution so far
(:mod:`workloads.optimization.results`), checkpoints for spot interruptions and a report. The
same code runs locally, as a SageMaker training job and as a Kubernetes Job.
"""
