"""Advanced Search: /advancedsearch/api/search, analyze and graph."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from emulator import search, views_search
from emulator.params import InputError, Request


# ---------------------------------------------------------------------- Advanced Search
def get_search(request: Request) -> dict[str, Any]:
    query = search.decode_query(request.path_args['query'])
    size, offset = search.size_and_offset(query)
    records, start, end = search.run(request.dataset, query, request.now_ms)
    records.reverse()
    hits = [views_search.search_hit(r) for r in records[offset:offset + size]]
    return views_search.search_reply(len(records), hits, views_search.kibana(query, start, end, size))


def get_analyze(request: Request) -> dict[str, Any]:
    field_name = unquote(request.path_args['field'])
    analysis = request.path_args['analysis']
    if analysis not in ('mean', 'terms', 'trend', 'score'):
        raise InputError(f'Invalid analysis: {analysis}')
    query = search.decode_query(request.path_args['query'])
    size, offset = search.size_and_offset(query)
    records, start, end = search.run(request.dataset, query, request.now_ms)
    # Each analysis looks at up to 10,000 records; offset moves that window.
    records = records[offset:offset + 10_000]
    values = [search.field_value(r, field_name) for r in records]
    values = [v for v in values if v is not None]
    aggregations: dict[str, Any] | None = None
    hits: list[dict[str, Any]] | None = None
    if analysis == 'mean':
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        aggregations = views_search.stats_aggregation(
            len(numbers), min(numbers) if numbers else None, max(numbers) if numbers else None,
            sum(numbers) / len(numbers) if numbers else None, sum(numbers) if numbers else 0)
    else:
        counts = search.value_counts(values)
        top = sorted(counts.items(), key=lambda pair: (-pair[1], str(pair[0])))[:size or 10]
        if analysis == 'terms':
            aggregations = views_search.terms_aggregation(len(values) - sum(n for _, n in top), top)
        elif analysis == 'score':
            hits = [views_search.score_hit(key, n) for key, n in top]
        else:  # trend: the rise or fall between the window's two halves
            middle = start + (end - start) // 2
            early = search.value_counts([search.field_value(r, field_name) for r in records if r['epoch_ms'] < middle])
            hits = [views_search.trend_hit(key, n, early.get(key, 0),
                                           round((n - 2 * early.get(key, 0)) / max(early.get(key, 0), 1) * 100, 2))
                    for key, n in top]
    return views_search.analyze_reply(len(records), views_search.kibana(query, start, end, size),
                                      aggregations=aggregations, hits=hits)


def get_graph(request: Request) -> dict[str, Any]:
    mode = request.path_args['mode']
    interval = int(request.path_args['interval'])
    if mode not in ('count', 'mean') or interval <= 0:
        raise InputError('Invalid graph: mode must be count or mean and interval > 0')
    query = search.decode_query(request.path_args['query'])
    records, start, end = search.run(request.dataset, query, request.now_ms)
    if (end - start) // interval > 10_000:
        raise InputError('Invalid graph: too many buckets')
    field_name = str(query.get('field', '@fields.orig_bytes'))
    buckets: dict[int, list[Any]] = {}
    for record in records:
        bucket_key = record['epoch_ms'] - record['epoch_ms'] % interval
        buckets.setdefault(bucket_key, []).append(search.field_value(record, field_name))
    reply_buckets = []
    for key in range(start - start % interval, end + 1, interval):
        values = buckets.get(key, [])
        if mode == 'mean':
            numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            reply_buckets.append(views_search.mean_graph_bucket(key, len(values),
                                                                sum(numbers) / len(numbers) if numbers else None))
        else:
            reply_buckets.append(views_search.graph_bucket(key, len(values)))
    return views_search.graph_reply(len(records), mode, reply_buckets, views_search.kibana(query, start, end, 0))
