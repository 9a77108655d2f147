"""The code the platform runs in AWS (training, inference, monitoring, ingestion, operations).

Plain Python: nothing under workloads/ imports pulumi (tests/test_import_boundaries.py checks).
"""
