"""A Prometheus scrape configuration for servers that expose ``/metrics`` (text format 0.0.4).

The local platform writes one for its processes; a user who runs Prometheus points it at that
file (``prometheus --config.file=...``). Kept to the keys every Prometheus 2.x/3.x reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import yaml


def scrape_config(
    jobs: Mapping[str, Sequence[str]],
    *,
    interval_seconds: int = 15,
    metrics_path: str = "/metrics",
) -> str:
    """The YAML of a ``prometheus.yml`` scraping each job's ``host:port`` targets.

    ``jobs`` maps a job name (the ``job`` label) to its targets. A target must be ``host:port``
    with a port in 1-65535; an empty job or a bad target is a ``ValueError`` naming it.
    """
    if interval_seconds <= 0:
        raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
    configs = []
    for job, targets in jobs.items():
        if not targets:
            raise ValueError(f"scrape job '{job}' has no targets")
        for target in targets:
            _check_target(job, target)
        configs.append(
            {
                "job_name": job,
                "metrics_path": metrics_path,
                "static_configs": [{"targets": list(targets)}],
            }
        )
    document = {
        "global": {
            "scrape_interval": f"{interval_seconds}s",
            "evaluation_interval": f"{interval_seconds}s",
        },
        "scrape_configs": configs,
    }
    return yaml.safe_dump(document, sort_keys=False)


def _check_target(job: str, target: str) -> None:
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"scrape job '{job}': target {target!r} is not host:port")
