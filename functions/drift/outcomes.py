"""How a drift check of one endpoint variant can end, its decision levels, and the metrics it publishes.

Standard library only: the program imports it (components/dashboards.py lists every outcome on the
model performance dashboard) without numpy.
"""

from __future__ import annotations

CHECKED = "checked"  # compared with the baseline: drifted or not
NO_CAPTURE = "no_capture"  # the variant never captured anything (no traffic yet, or capture off)
EMPTY_WINDOW = "empty_window"  # it has captured before, but nothing within the window
INSUFFICIENT_DATA = "insufficient_data"  # fewer readable rows than MIN_ROWS in the window
BASELINE_MISSING = "baseline_missing"  # the served version, its archives or its baseline.json do not exist
BASELINE_UNREADABLE = "baseline_unreadable"  # they exist, but are not what the trainer writes
FEATURES_CHANGED = "features_changed"  # most rows have another number of features than the baseline

OUTCOMES: tuple[str, ...] = (CHECKED, NO_CAPTURE, EMPTY_WINDOW, INSUFFICIENT_DATA, BASELINE_MISSING,
                             BASELINE_UNREADABLE, FEATURES_CHANGED)
"""Every outcome, the `Outcome` dimension's values of `drift.checks`."""

MIN_ROWS = 100
"""Fewer rows than this in a window: no decision (the chi-square approximation needs counts)."""

# The decision's levels (functions/drift/statistics.py explains them); here, without numpy, so the
# dashboards draw the same threshold the function applies.
FALSE_DISCOVERY_RATE = 0.05
PSI_THRESHOLD = 0.1
PREDICTION_SHIFT_THRESHOLD = 0.05

# Keys of components/metrics_catalogue.py the function publishes (the program passes the names).
DETECTED = "drift.detected"
CHECKS = "drift.checks"
FEATURE_SCORE = "drift.feature_psi"
DRIFTED_FEATURES = "drift.drifted_features"
MEAN_PREDICTION = "drift.mean_predicted_probability"
BASELINE_POSITIVE_RATE = "drift.baseline_positive_rate"
ROWS = "drift.captured_rows"
MALFORMED = "drift.malformed_records"
METRIC_KEYS: tuple[str, ...] = (DETECTED, CHECKS, FEATURE_SCORE, DRIFTED_FEATURES, MEAN_PREDICTION,
                                BASELINE_POSITIVE_RATE, ROWS, MALFORMED)
