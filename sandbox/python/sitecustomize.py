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

    # --clock-skew (issue 19 item 6, aws-rules.md R103): AWS's clock is not the caller's. The
    # front forwards the skew with each request it serves (x-johanna-clock-skew-ms); moto
    # keeps its data in this machine's time, and what a caller sends or reads is in AWS's:
    # the Timestamps put, the StartTime/EndTime asked for, the datapoints answered. The
    # sandbox's own publisher (eb/request-metrics.ts) talks to moto directly, in local time.
    import threading
    from datetime import timedelta

    _clock = threading.local()

    def _skew():
        return getattr(_clock, 'skew', None) or timedelta(0)

    def _with_skew(method):
        def wrapped(self, *args, **kwargs):
            try:
                ms = int(self.headers.get('x-johanna-clock-skew-ms') or 0)
            except (TypeError, ValueError):
                ms = 0
            _clock.skew = timedelta(milliseconds=ms)
            try:
                return method(self, *args, **kwargs)
            finally:
                _clock.skew = None
        return wrapped

    for _name in ('put_metric_data', 'get_metric_statistics', 'get_metric_data'):
        setattr(_responses.CloudWatchResponse, _name, _with_skew(getattr(_responses.CloudWatchResponse, _name)))

    _backend_put = _models.CloudWatchBackend.put_metric_data

    def _put_metric_data(self, namespace, metric_data, *args, **kwargs):
        skew = _skew()
        if skew:
            metric_data = [dict(m, Timestamp=m['Timestamp'] - skew) if m.get('Timestamp') else m for m in metric_data]
        return _backend_put(self, namespace, metric_data, *args, **kwargs)

    _models.CloudWatchBackend.put_metric_data = _put_metric_data

    _backend_stats = _models.CloudWatchBackend.get_metric_statistics

    def _skewed_metric_statistics(self, namespace, metric_name, start_time, end_time, *args, **kwargs):
        skew = _skew()
        data = _backend_stats(self, namespace, metric_name, start_time - skew, end_time - skew, *args, **kwargs)
        for s in data:
            s.timestamp = s.timestamp + skew
        return data

    _models.CloudWatchBackend.get_metric_statistics = _skewed_metric_statistics

    _backend_data = _models.CloudWatchBackend.get_metric_data

    def _skewed_metric_data(self, queries, start_time, end_time, *args, **kwargs):
        skew = _skew()
        results = _backend_data(self, queries, start_time - skew, end_time - skew, *args, **kwargs)
        for r in results:
            r['timestamps'] = [t + skew for t in r.get('timestamps', [])]
        return results

    _models.CloudWatchBackend.get_metric_data = _skewed_metric_data
