"""The whole platform on one machine: MLflow, the inference server, drift checks, a status page.

``ml-platform local up`` starts :mod:`workloads.local_platform.supervisor` detached; it runs the
children (:mod:`~workloads.local_platform.specs`), restarts them with backoff, runs the drift
check on a schedule (:mod:`~workloads.local_platform.drift`), serves the status page and the
platform's metrics (:mod:`~workloads.local_platform.status_page`) and records what runs where in
the state file (:mod:`~workloads.local_platform.state`). Everything lives under one folder
(:mod:`~workloads.local_platform.layout`). Standard library only at import; no pulumi, no click.
"""
