"""Names the monitor's code and the platform that deploys it agree on (standard library only).

The component (``components/monitoring/model_monitor.py``) builds processing jobs from these
names and the job reads and writes exactly these files, so both sides import them from here.

Files of a baseline (a folder locally, ``s3://<monitoring>/<endpoint>/baseline/`` in AWS):

* ``statistics.json`` and ``constraints.json``: SageMaker Model Monitor's shapes, so the same
  baseline also serves a DataQualityJobDefinition;
* ``baseline.npz``: our prepared sample, each numeric column's present values sorted (float64),
  which the check compares a window with exactly (KS) without re-reading the training data.

Files of a check (``s3://<monitoring>/<endpoint>/reports/<execution>/``):

* ``constraint_violations.json``: Model Monitor's shape, ``{"violations": [{"feature_name",
  "constraint_check_type", "description"}]}``;
* ``summary.json``: the window, record counts, and per feature its figures, whether it drifted,
  and the binned distributions the report draws;
* ``metrics.json``: ``{"namespace", "timestamp", "metrics": [{"name", "dimensions", "value",
  "unit"}]}``: what ``publish`` sends to CloudWatch;
* ``report.html``: the self-contained report.
"""

from __future__ import annotations

#: The CloudWatch namespace of every monitoring metric.
METRIC_NAMESPACE = "MLPlatform/Monitoring"

# Baseline files.
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
SAMPLE_FILE = "baseline.npz"
BASELINE_FILES = (STATISTICS_FILE, CONSTRAINTS_FILE, SAMPLE_FILE)

# Check results.
VIOLATIONS_FILE = "constraint_violations.json"
SUMMARY_FILE = "summary.json"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.html"
#: What ``select-window`` writes next to the capture files it stages.
WINDOW_FILE = "window.json"

#: The feature name the endpoint's output (its predictions) is reported under.
PREDICTION_FEATURE = "prediction"

# Metrics with the dimensions {Endpoint}.
RECORDS_CHECKED = "RecordsChecked"
"""Captured requests (rows) in the window that were checked."""
MALFORMED_RECORDS = "MalformedRecords"
"""Capture lines or payloads that could not be read."""
CHECKS_COMPLETED = "ChecksCompleted"
"""1 per finished check, empty windows included: its absence means the monitor is not running."""
FEATURES_DRIFTED = "FeaturesDrifted"
"""Input features past their drift threshold (PSI or KS for numbers, JS for categories)."""
CONSTRAINT_VIOLATIONS = "ConstraintViolations"
"""Entries in constraint_violations.json (drift, completeness, type, range, categories)."""
MAX_PSI = "MaxPSI"
"""The largest PSI of any numeric input feature."""
MAX_JS_DISTANCE = "MaxJSDistance"
"""The largest Jensen-Shannon distance of any categorical input feature."""
MAX_MISSING_RATE = "MaxMissingRate"
"""The largest missing-value rate of any input feature."""
PREDICTION_PSI = "PredictionPSI"
"""PSI of the predictions against the baseline's (prediction drift)."""
PREDICTION_KS = "PredictionKSStatistic"
"""KS statistic of the predictions against the baseline's."""

# Metrics with the dimensions {Endpoint, Feature}.
KS_STATISTIC = "KSStatistic"
KS_P_VALUE = "KSPValue"
PSI = "PSI"
JS_DISTANCE = "JSDistance"
MISSING_RATE = "MissingRate"
TYPE_VIOLATION_RATE = "TypeViolationRate"
RANGE_VIOLATION_RATE = "RangeViolationRate"

# The job's commands (``python -m workloads.monitoring <command>``, or ``ml-platform-monitor``).
BASELINE_COMMAND = "baseline"
SELECT_COMMAND = "select-window"
CHECK_COMMAND = "check"
PUBLISH_COMMAND = "publish"
REPORT_COMMAND = "report"

# Folders inside a SageMaker processing container (inputs are downloaded there before the
# container starts, and outputs uploaded from there when it ends).
PROCESSING_ROOT = "/opt/ml/processing"
CODE_DIR = f"{PROCESSING_ROOT}/input/code"
BASELINE_DIR = f"{PROCESSING_ROOT}/input/baseline"
WINDOW_DIR = f"{PROCESSING_ROOT}/input/window"
RESULTS_INPUT_DIR = f"{PROCESSING_ROOT}/input/results"
WINDOW_OUTPUT_DIR = f"{PROCESSING_ROOT}/output/window"
RESULTS_OUTPUT_DIR = f"{PROCESSING_ROOT}/output/results"
CODE_ARCHIVE = "monitoring-code.zip"
"""The code archive's file name in S3 and in the container: a zip, so Python imports from it as is
(``PYTHONPATH=<CODE_DIR>/<CODE_ARCHIVE>``): processing inputs are downloaded, never unpacked."""
