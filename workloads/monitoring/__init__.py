"""The drift monitor: baselines, checks of captured traffic, metrics and reports (no pulumi)."""
