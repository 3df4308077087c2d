"""Model Monitor's file formats for the platform's own drift monitor (model_code/monitor.py).

statistics.json, constraints.json and constraint_violations.json follow the schemas AWS documents
for Model Monitor's prebuilt container ("Schema for Statistics", "Schema for Constraints", "Schema
for Violations" in the SageMaker developer guide), so that a baseline written by Model Monitor is
read here and ours are read by Model Monitor. Reading is tolerant: fields this code uses are
honoured (feature names and types, completeness, string domains, KLL buckets, categorical buckets,
monitoring_config), everything else is ignored (sketch data, monitoringConfigOverrides, custom
statistics). Python 3.8+, standard library and numpy only (it runs in the scikit-learn processing
image).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"

INTEGRAL, FRACTIONAL, STRING, UNKNOWN = "Integral", "Fractional", "String", "Unknown"
NUMERIC_TYPES = (INTEGRAL, FRACTIONAL)

# Violation check types, as documented.
DATA_TYPE_CHECK = "data_type_check"
COMPLETENESS_CHECK = "completeness_check"
BASELINE_DRIFT_CHECK = "baseline_drift_check"
MISSING_COLUMN_CHECK = "missing_column_check"
EXTRA_COLUMN_CHECK = "extra_column_check"
CATEGORICAL_VALUES_CHECK = "categorical_values_check"

# "By default, we materialize the distribution in 10 buckets" (the statistics schema page).
BUCKETS = 10
# KLL parameters as Model Monitor writes them; our sketch holds one level (see sketch_data).
KLL_PARAMETERS = {"c": 0.64, "k": 2048.0}
# A String feature gets a domain (string_constraints.domains) up to this many distinct values.
MAX_DOMAIN = 20
# Distinct values counted per String feature; beyond it the feature has no domain and no drift.
MAX_CATEGORIES = 1000

# The documented defaults; Model Monitor's generated constraints use the Robust comparison.
DEFAULT_MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 0.1,
    "domain_content_threshold": 0.1,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}
# The Robust comparison's significance level (Kolmogorov-Smirnov two-sample critical value).
KS_ALPHA = 0.05


class MonitorError(ValueError):
    """Bad input: the message names the file (and line) and what is wrong."""


@dataclass
class FeatureBaseline:
    """What check needs to know about one baseline feature."""

    name: str
    inferred_type: str
    completeness: float = 1.0
    # Numeric: the KLL bucket edges (len(counts) + 1) and the baseline count per bucket.
    edges: np.ndarray | None = None
    counts: np.ndarray | None = None
    num_present: int = 0
    # String: the domain (None: not constrained) and the baseline value counts.
    domains: list[str] | None = None
    categories: dict[str, float] = field(default_factory=dict)

    @property
    def numeric(self) -> bool:
        return self.inferred_type in NUMERIC_TYPES


@dataclass
class Baseline:
    features: list[FeatureBaseline]
    config: dict[str, Any]
    item_count: int = 0

    def threshold(self, key: str) -> float:
        return float(self.config.get(key, DEFAULT_MONITORING_CONFIG[key]))

    def distribution(self, key: str) -> Any:
        given = self.config.get("distribution_constraints") or {}
        default = DEFAULT_MONITORING_CONFIG["distribution_constraints"].get(key)
        if key == "categorical_comparison_threshold":  # documented default: comparison_threshold
            default = given.get("comparison_threshold", 0.1)
        return given.get(key, default)


def read_baseline(statistics: dict[str, Any], constraints: dict[str, Any], names: tuple[str, str]) -> Baseline:
    """The baseline from parsed statistics.json and constraints.json (`names`: their paths, for errors)."""
    stats_by_name = {}
    for described in _list(statistics, "features", names[0]):
        stats_by_name[str(described.get("name"))] = described
    config = dict(DEFAULT_MONITORING_CONFIG)
    config.update(constraints.get("monitoring_config") or {})
    features: list[FeatureBaseline] = []
    for entry in _list(constraints, "features", names[1]):
        if "name" not in entry:
            raise MonitorError(f"{names[1]}: a feature without a name")
        name = str(entry["name"])
        stats = stats_by_name.get(name, {})
        kind = str(entry.get("inferred_type") or stats.get("inferred_type") or UNKNOWN)
        feature = FeatureBaseline(name, kind, completeness=float(entry.get("completeness", 1.0)))
        numerical = stats.get("numerical_statistics") or {}
        buckets = ((numerical.get("distribution") or {}).get("kll") or {}).get("buckets") or []
        if buckets:
            feature.edges = np.array([buckets[0]["lower_bound"]] + [b["upper_bound"] for b in buckets], dtype=float)
            feature.counts = np.array([b["count"] for b in buckets], dtype=float)
        feature.num_present = int((numerical.get("common") or {}).get("num_present", 0))
        domains = (entry.get("string_constraints") or {}).get("domains")
        feature.domains = [str(d) for d in domains] if domains is not None else None
        string = stats.get("string_statistics") or {}
        for bucket in ((string.get("distribution") or {}).get("categorical") or {}).get("buckets") or []:
            feature.categories[str(bucket["value"])] = float(bucket["count"])
        features.append(feature)
    if not features:  # constraints without features: take the statistics' features
        for name, stats in stats_by_name.items():
            features.append(FeatureBaseline(name, str(stats.get("inferred_type", UNKNOWN))))
    item_count = int((statistics.get("dataset") or {}).get("item_count", 0))
    return Baseline(features, config, item_count)


def _list(document: dict[str, Any], key: str, name: str) -> list[dict[str, Any]]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MonitorError(f"{name}: '{key}' must be a list of objects")
    return value


def numeric_statistics(
    *,
    present: int,
    missing: int,
    total: float,
    mean: float,
    std: float,
    low: float,
    high: float,
    edges: np.ndarray,
    counts: np.ndarray,
    sample: np.ndarray,
) -> dict[str, Any]:
    """numerical_statistics of one feature: KLL buckets over `edges`, the sample as the sketch."""
    buckets = [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
        for i in range(len(counts))
    ]
    return {
        "common": {"num_present": present, "num_missing": missing},
        "mean": _finite(mean),
        "sum": _finite(total),
        "std_dev": _finite(std),
        "min": _finite(low),
        "max": _finite(high),
        "distribution": {
            "kll": {
                "buckets": buckets if present else [],
                # One level of KLL items: a systematic sample of at most k values (every 2^j-th row).
                "sketch": {"parameters": dict(KLL_PARAMETERS), "data": [np.sort(sample).tolist()]},
            }
        },
    }


def string_statistics(*, present: int, missing: int, values: dict[str, int], overflow: bool) -> dict[str, Any]:
    buckets = [{"value": v, "count": c} for v, c in sorted(values.items(), key=lambda vc: (-vc[1], vc[0]))]
    return {
        "common": {"num_present": present, "num_missing": missing},
        "distinct_count": float(len(values)) if not overflow else float(MAX_CATEGORIES),
        "distribution": {"categorical": {"buckets": buckets}},
    }


def feature_constraint(name: str, kind: str, statistics: dict[str, Any]) -> dict[str, Any]:
    """The constraints.json entry Model Monitor suggests for a feature with these statistics."""
    numerical = statistics.get("numerical_statistics")
    common = (numerical or statistics.get("string_statistics") or {}).get("common", {})
    present, missing = common.get("num_present", 0), common.get("num_missing", 0)
    entry: dict[str, Any] = {
        "name": name,
        "inferred_type": kind,
        "completeness": present / (present + missing) if present + missing else 0.0,
    }
    if numerical is not None:
        entry["num_constraints"] = {"is_non_negative": bool(present) and numerical["min"] >= 0}
    elif kind == STRING:
        buckets = statistics["string_statistics"]["distribution"]["categorical"]["buckets"]
        if statistics["string_statistics"]["distinct_count"] <= MAX_DOMAIN:
            entry["string_constraints"] = {"domains": sorted(b["value"] for b in buckets)}
    return entry


def cdf_distance(counts: np.ndarray, current: np.ndarray) -> float:
    """Largest gap between the baseline's and the traffic's CDFs on the baseline's bucket edges.

    `counts`: the baseline's B bucket counts; `current`: the traffic's B + 2 counts (below the first
    edge, the B buckets, above the last edge). Both CDFs are 1 beyond the last edge.
    """
    base_total, current_total = counts.sum(), current.sum()
    if base_total <= 0 or current_total <= 0:
        return 0.0
    base_cdf = np.concatenate(([0.0], np.cumsum(counts))) / base_total
    current_cdf = np.cumsum(current[:-1]) / current_total
    return float(np.max(np.abs(base_cdf - current_cdf)))


def categorical_distance(baseline: dict[str, float], current: dict[str, int]) -> float:
    """LInfinity: the largest gap between the two value frequencies over every value seen."""
    base_total, current_total = sum(baseline.values()), sum(current.values())
    if base_total <= 0 or current_total <= 0:
        return 0.0
    values = set(baseline) | set(current)
    return max(abs(baseline.get(v, 0.0) / base_total - current.get(v, 0) / current_total) for v in values)


def ks_critical(n: int, m: int, alpha: float = KS_ALPHA) -> float:
    """The two-sample Kolmogorov-Smirnov critical distance for samples of n and m values."""
    if n <= 0 or m <= 0:
        return math.inf
    return math.sqrt(-0.5 * math.log(alpha / 2)) * math.sqrt((n + m) / (n * m))


def violation(feature: str, check: str, description: str) -> dict[str, str]:
    return {"feature_name": feature, "constraint_check_type": check, "description": description}


def _finite(value: float) -> float:
    return float(value) if math.isfinite(value) else 0.0
