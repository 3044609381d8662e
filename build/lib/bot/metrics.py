"""Prometheus metrics: one registry for the process, served at ``GET /metrics``.

Any part of the runtime adds its own metrics here, e.g. the delivery worker::

    from bot.metrics import counter, gauge

    DELIVERIES = counter("deliveries", "Outbox deliveries by outcome.", ["outcome"])
    OUTBOX_DEPTH = gauge("outbox_depth", "Outbox rows waiting to be sent.")

Names get the ``medvirk_`` prefix. Calling a helper twice with the same name returns the
metric made the first time, so a module imported twice (tests) does not raise. Label values
must come from small fixed sets (an update kind, an outcome), never from ids or text: every
value is a time series, and an id in a label would also be personal data in the monitoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics import MetricWrapperBase

PREFIX = "medvirk_"

#: The registry ``/metrics`` serves. Not prometheus_client's global one, so tests and tools
#: importing other libraries' metrics do not leak into ours.
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # memory, CPU, open files of this process

_made: dict[str, MetricWrapperBase] = {}

M = TypeVar("M", bound=MetricWrapperBase)


def _metric(
    kind: type[M], name: str, documentation: str, labels: Sequence[str], **kw: object
) -> M:
    full = PREFIX + name
    existing = _made.get(full)
    if existing is not None:
        if not isinstance(existing, kind):
            raise ValueError(f"metric {full} exists as {type(existing).__name__}")
        return existing
    metric = kind(full, documentation, labelnames=list(labels), registry=REGISTRY, **kw)  # type: ignore[arg-type]
    _made[full] = metric
    return metric


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
    """A counter (``_total`` is appended on export)."""
    return _metric(Counter, name, documentation, labels)


def gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
    """A gauge: a value that goes up and down (a queue depth, work in flight)."""
    return _metric(Gauge, name, documentation, labels)


def histogram(
    name: str,
    documentation: str,
    labels: Sequence[str] = (),
    buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS,
) -> Histogram:
    """A histogram of observed values (latencies in seconds)."""
    return _metric(Histogram, name, documentation, labels, buckets=tuple(buckets))


def exposition() -> tuple[bytes, str]:
    """The registry in Prometheus' text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# What the update pipeline records (bot.app); the web server adds its own below.
UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

UPDATES = counter(
    "updates", "Updates handled, by kind and outcome (ok, error, ignored).", ["kind", "outcome"]
)
UPDATE_ERRORS = counter(
    "update_errors", "Handler failures, by update kind and exception type.", ["kind", "error"]
)
UPDATE_LATENCY = histogram(
    "update_duration_seconds",
    "Time from receiving an update to its reply being sent, by kind.",
    ["kind"],
    UPDATE_BUCKETS,
)
UPDATES_IN_FLIGHT = gauge("updates_in_flight", "Updates being handled right now.")
WEBHOOK_REQUESTS = counter(
    "webhook_requests", "Requests to POST /telegram, by the status answered.", ["status"]
)
