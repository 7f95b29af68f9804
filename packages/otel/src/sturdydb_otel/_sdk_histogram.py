"""Handing a batch of queued histogram samples to the OpenTelemetry SDK, exactly and cheaply.

Why this exists: the SDK's ``Histogram.record`` takes one value and, profiled on the SDK 1.45
with the call histogram's six attributes, costs 9 to 13 µs on a small machine: about a third
cleaning the attributes (``Measurement.__post_init__``), a third hashing them again into the
aggregation key (``_ViewInstrumentMatch``), the rest the ``Measurement`` dataclass and four
layers of calls; the exemplar filter, the context lookup, view matching (cached) and the locks
are a few percent each. Even with no attribute at all it costs about 6 µs. Once per sample, that
is several times the plugin's whole budget, and the public API has no batch form.

So for a batch of samples of one attribute set, :class:`Handover` does what ``record`` would
do for each, once for the batch: it finds (or creates, as ``record`` does, under the same locks)
the aggregation each reader's views keep for those attributes, and adds the batch's count, sum
(added one value at a time in order, as ``record`` adds them, so the float is the same to the
last bit), min, max and bucket counts (``bisect_left`` on the aggregation's own boundaries, as
the SDK does). That touches the SDK's private classes, so it is done only when everything is
what this module was written against, checked per batch:

- the SDK's version is one the equality test below has passed on (:data:`VERIFIED_SDK`: a
  newer SDK takes the slow path until the test is run on it and the version added), and the
  histogram is the SDK's and enabled;
- every view of every reader aggregates it as an explicit-bucket histogram (not exponential,
  not dropped; a view's attribute filter is applied as the SDK applies it);
- the exemplar filter is trace-based or always-off: the samples are handed over with an empty
  context (the call's span is long gone), so neither would keep an exemplar;
- every attribute key is a non-empty ``str`` and every value a plain ``str``, ``bool``, ``int``
  or ``float`` (nothing for the SDK to clean or drop).

Otherwise every sample goes through the public ``record``, one by one, as before: slower,
never different. The equality of both paths (counts, sums, min, max, buckets, attributes,
across readers, temporalities and views) is asserted in ``tests/test_sdk_histogram_handover.py``.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.context import Context

__all__ = ["VERIFIED_SDK", "Handover"]

#: (major, minor) versions of opentelemetry-sdk whose private aggregation state this module
#: was checked against (``tests/test_sdk_histogram_handover.py`` fails when the installed SDK
#: is not listed, so an upgrade prompts the check instead of silently slowing down).
VERIFIED_SDK = frozenset({(1, 45)})

_PLAIN = (str, bool, int, float)


def _sdk_version() -> tuple[int, int] | None:
    try:
        from opentelemetry.sdk.version import __version__
    except ImportError:
        return None
    try:
        major, minor = __version__.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


def _sdk_parts() -> tuple[Callable[[Any], Any], type, tuple[type, ...]] | None:
    """(attribute hash function, explicit-bucket aggregation class, the exemplar filter classes
    that keep no exemplar here), or None when the SDK is absent or unverified."""
    if _sdk_version() not in VERIFIED_SDK:
        return None
    try:
        from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, TraceBasedExemplarFilter
        from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes
        from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation
    except ImportError:
        return None
    return _hash_attributes, _ExplicitBucketHistogramAggregation, (TraceBasedExemplarFilter, AlwaysOffExemplarFilter)


def _bucket_counts(sorted_values: Sequence[float], boundaries: Sequence[float]) -> list[int]:
    """How many values ``bisect_left(boundaries, v)`` puts in each bucket (the SDK's rule: a value
    equal to a boundary counts in the bucket that boundary closes)."""
    counts = []
    below = 0
    for bound in boundaries:
        upto = bisect_right(sorted_values, bound)
        counts.append(upto - below)
        below = upto
    counts.append(len(sorted_values) - below)
    return counts


class Handover:
    """Hands batches of one attribute set's samples to one histogram (see the module doc)."""

    def __init__(self, histogram: Any) -> None:
        self.histogram = histogram
        self._parts = _sdk_parts()
        # The empty context: no span is active for a sample handed over later, wherever the
        # batch is handed over from (the flusher, a collecting thread, a releasing one).
        self._context = Context()

    @property
    def fast(self) -> bool:
        """Whether batches can skip the per-sample ``record`` with this SDK (if its setup allows)."""
        return self._parts is not None

    def record(self, values: list[float], attributes: Mapping[str, Any]) -> bool:
        """Record every value of ``values`` (seconds, in the order measured) with ``attributes``;
        whether they went in as one batch (else one ``record`` each)."""
        if self._merge(values, attributes):
            return True
        record = self.histogram.record
        context = self._context
        for value in values:
            record(value, attributes, context)
        return False

    def _targets(self, attributes: Mapping[str, Any]) -> list[tuple[Any, Any, dict[str, Any]]] | None:
        """(view match, aggregation key, its attributes) for every reader and view, or None when
        the fast path does not apply (nothing has been touched then)."""
        parts = self._parts
        if parts is None:
            return None
        hash_attributes, explicit_cls, quiet_filters = parts
        histogram = self.histogram
        consumer = getattr(histogram, "_measurement_consumer", None)
        storages = getattr(consumer, "_reader_storages", None)
        config = getattr(consumer, "_sdk_config", None)
        if storages is None or not isinstance(getattr(config, "exemplar_filter", None), quiet_filters):
            return None
        for key, value in attributes.items():
            if not isinstance(value, _PLAIN) or not isinstance(key, str) or not key:
                return None
        targets = []
        try:
            for storage in storages.values():
                for match in storage._get_or_init_view_instrument_match(histogram):
                    if type(match._aggregation) is not explicit_cls:
                        return None
                    attrs = dict(attributes)
                    keys = match._view._attribute_keys
                    if keys is not None:
                        attrs = {k: v for k, v in attrs.items() if k in keys}
                    targets.append((match, hash_attributes(attrs), attrs))
        except AttributeError:  # another SDK version
            return None
        return targets

    def _merge(self, values: list[float], attributes: Mapping[str, Any]) -> bool:
        if len(values) < 2:
            return False  # one sample: the public path costs the same
        is_enabled = getattr(self.histogram, "_is_enabled", None)
        if is_enabled is None:
            return False
        if not is_enabled():
            return True  # a disabled instrument records nothing, by either path
        targets = self._targets(attributes)
        if targets is None:
            return False
        ordered = sorted(values)
        buckets: dict[tuple[float, ...], list[int]] = {}
        for match, key, attrs in targets:
            if match._reset_on_collect:
                # Delta collection discards the aggregations: as the SDK does, hold the match's
                # lock until the batch is in, so none of it is discarded with an old one.
                with match._lock:
                    aggregation = match._get_or_create_aggregation(key, attrs)
                    self._add(aggregation, values, ordered, buckets)
                continue
            aggregation = match._attributes_aggregation.get(key)
            if aggregation is None:
                with match._lock:
                    aggregation = match._get_or_create_aggregation(key, attrs)
            self._add(aggregation, values, ordered, buckets)
        return True

    @staticmethod
    def _add(aggregation: Any, values: list[float], ordered: list[float],
             buckets: dict[tuple[float, ...], list[int]]) -> None:
        boundaries = aggregation._boundaries
        counts = buckets.get(boundaries)
        if counts is None:
            counts = buckets[boundaries] = _bucket_counts(ordered, boundaries)
        with aggregation._lock:
            if aggregation._value is None:
                aggregation._value = aggregation._get_empty_bucket_counts()
            bucket_values = aggregation._value
            for i, n in enumerate(counts):
                bucket_values[i] += n
            total = aggregation._sum
            for value in values:  # in order, one at a time: the same float as record's
                total += value
            aggregation._sum = total
            if aggregation._record_min_max:
                aggregation._min = min(aggregation._min, ordered[0])
                aggregation._max = max(aggregation._max, ordered[-1])
