"""The JSON shape of a flow's lag sample: what ``GET /flows/{name}/lag`` answers and what
``mirror lag`` prints, whether it measured the flow itself or asked a service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mirror.lag import FlowLag

JsonObject = dict[str, Any]


def lag_view(flow: str, sample: FlowLag | None, now_s: float) -> JsonObject:
    """The JSON of a flow's newest sample; every field null or empty before the first sample."""
    if sample is None:
        return {
            "flow": flow,
            "sampled_at": None,
            "sample_age_seconds": None,
            "records": None,
            "seconds": None,
            "heartbeat_age_seconds": None,
            "checkpoint_age_seconds": None,
            "rpo_seconds": None,
            "topics": [],
            "partitions": [],
            "groups": [],
        }
    return {
        "flow": flow,
        "sampled_at": datetime.fromtimestamp(sample.at_s, UTC).isoformat(),
        "sample_age_seconds": _rounded(max(0.0, now_s - sample.at_s)),
        "records": sample.records,
        "seconds": _rounded(sample.seconds),
        "heartbeat_age_seconds": _rounded(sample.heartbeat_age_s(now_s)),
        "checkpoint_age_seconds": _rounded(sample.checkpoint_age_s()),
        "rpo_seconds": _rounded(sample.rpo_s(now_s)),
        "topics": [
            {"topic": topic, "records": records, "seconds": _rounded(seconds)}
            for topic, (records, seconds) in sorted(sample.topics().items())
        ],
        "partitions": [
            {
                "topic": lag.topic,
                "partition": lag.partition,
                "source_end_offset": lag.source_end_offset,
                "next_offset": lag.next_offset,
                "records": lag.records,
                "seconds": _rounded(lag.seconds),
            }
            for lag in sample.partitions
        ],
        "groups": [
            {
                "group": lag.group,
                "topic": lag.topic,
                "partition": lag.partition,
                "committed_offset": lag.committed_offset,
                "source_lag": lag.source_records,
                "checkpoint_upstream_offset": lag.checkpoint_upstream_offset,
                "target_lag": lag.target_records,
                "checkpoint_age_seconds": _rounded(lag.checkpoint_age_s),
            }
            for lag in sample.groups
        ],
    }


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)
