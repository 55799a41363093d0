# Loaded by the sandbox's moto_server only (sandbox/moto.ts puts this folder on its
# PYTHONPATH): where moto's CloudWatch is kinder than AWS's, make it answer as AWS does.
#
# - get-metric-statistics with --extended-statistics (p99, p95.5, ...): moto accepts the
#   parameter and ignores it, so every datapoint comes back without ExtendedStatistics.
#   AWS answers each datapoint's percentiles from the values published into its period
#   (CloudWatch API Reference, GetMetricStatistics, ExtendedStatistics: "The percentile
#   statistics. Specify values between p0.0 and p100."; CloudWatch User Guide, "Percentiles":
#   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Percentiles).
#   The same for get-metric-data's MetricStat Stat "p99" (GetMetricData API Reference,
#   MetricStat.Stat: "any of the statistics ... including percentiles"), which moto answers
#   with no value. Here: the nearest-rank percentile of the values put with Value or
#   Values/Counts (aws-rules.md R100). Statistic sets carry no distribution; as on AWS, a
#   period made of them alone has no percentile.
import math
import os

if os.environ.get('JOHANNA_MOTO_FIXES') == '1':
    from moto.cloudwatch import models as _models
    from moto.cloudwatch import responses as _responses

    def _percentile(values, p):
        ordered = sorted(values)
        if not ordered:
            return None
        rank = max(1, math.ceil(p / 100.0 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]

    def _extended_statistics(self):
        wanted = getattr(self, '_johanna_extended', None) or []
        values = self.metric_single_values_list
        if not wanted or not values:
            return None
        out = {}
        for name in wanted:
            try:
                p = float(name[1:])
            except ValueError:
                continue
            v = _percentile(values, p)
            if v is not None:
                out[name] = v
        return out or None

    _models.Statistics.extended_statistics = property(_extended_statistics)

    _original_for_type = _models.Statistics.get_statistics_for_type

    def _get_statistics_for_type(self, stat):
        if isinstance(stat, str) and stat.startswith('p'):
            try:
                return _percentile(self.metric_single_values_list, float(stat[1:]))
            except ValueError:
                return None
        return _original_for_type(self, stat)

    _models.Statistics.get_statistics_for_type = _get_statistics_for_type

    _original_backend_stats = _models.CloudWatchBackend.get_metric_statistics

    def _get_metric_statistics(self, *args, **kwargs):
        extended = kwargs.pop('extended_statistics', None)
        data = _original_backend_stats(self, *args, **kwargs)
        for s in data:
            s._johanna_extended = extended
        return data

    _models.CloudWatchBackend.get_metric_statistics = _get_metric_statistics

    _original_response = _responses.CloudWatchResponse.get_metric_statistics

    def _response_get_metric_statistics(self):
        backend = self.cloudwatch_backend
        extended = self._get_param('ExtendedStatistics') or []
        original = type(backend).get_metric_statistics

        def with_extended(b, *args, **kwargs):
            return original(b, *args, extended_statistics=extended, **kwargs)

        type(backend).get_metric_statistics = with_extended
        try:
            return _original_response(self)
        finally:
            type(backend).get_metric_statistics = original

    _responses.CloudWatchResponse.get_metric_statistics = _response_get_metric_statistics
