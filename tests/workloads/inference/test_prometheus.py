"""The scrape configuration the local platform writes for Prometheus."""

from __future__ import annotations

import pytest
import yaml

from workloads.inference.prometheus import scrape_config


def test_each_job_scrapes_its_targets_metrics_path() -> None:
    # when
    text = scrape_config({"inference": ["127.0.0.1:8080"], "local": ["127.0.0.1:8090"]})
    # then
    document = yaml.safe_load(text)
    assert document["global"]["scrape_interval"] == "15s"
    assert document["scrape_configs"] == [
        {
            "job_name": "inference",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": ["127.0.0.1:8080"]}],
        },
        {
            "job_name": "local",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": ["127.0.0.1:8090"]}],
        },
    ]


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ({"inference": []}, "scrape job 'inference' has no targets"),
        (
            {"inference": ["localhost"]},
            "scrape job 'inference': target 'localhost' is not host:port",
        ),
        ({"inference": [":8080"]}, "scrape job 'inference': target ':8080' is not host:port"),
        ({"inference": ["h:70000"]}, "scrape job 'inference': target 'h:70000' is not host:port"),
    ],
)
def test_a_bad_job_is_refused_by_name(jobs: dict, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        scrape_config(jobs)
    assert str(raised.value) == message
