"""Advanced Search: /advancedsearch/api/search, analyze and graph."""
from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from emulator import search
from emulator.catalog import APPLIANCE_HOSTNAME
from emulator.dataset import format_iso
from emulator.params import InputError, Request


# ---------------------------------------------------------------------- Advanced Search
def get_search(request: Request) -> dict[str, Any]:
    query = search.decode_query(request.path_args['query'])
    size, offset = search.size_and_offset(query)
    records, start, end = search.run(request.dataset, query, request.now_ms)
    records.reverse()
    hits = [{'_index': f'logstash-{APPLIANCE_HOSTNAME}-{r["@timestamp"][:10].replace("-", ".")}', '_type': 'doc',
             '_id': r['@fields']['uid'], '_score': None,
             '_source': {'@fields': dict(r['@fields']), '@type': r['@type'], '@timestamp': r['@timestamp'],
                         'source_device': r['source_device']},
             'sort': [r['epoch_ms']]} for r in records[offset:offset + size]]
    return {**search.elastic(len(records), hits), 'kibana': search.kibana(query, start, end, size)}


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
    # guide 2.2: every type shares took, timed_out, _shards, hits, darktraceChildError and kibana
    reply = search.elastic(len(records), [])
    reply['darktraceChildError'] = ''
    if analysis == 'mean':  # guide 2.2: aggregations.stats {count, min, max, avg, sum}; no buckets
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        reply['aggregations'] = {'stats': {
            'count': len(numbers), 'min': min(numbers) if numbers else None, 'max': max(numbers) if numbers else None,
            'avg': sum(numbers) / len(numbers) if numbers else None, 'sum': sum(numbers) if numbers else 0}}
    else:
        counts = search.value_counts(values)
        top = sorted(counts.items(), key=lambda pair: (-pair[1], str(pair[0])))[:size or 10]
        if analysis == 'terms':
            reply['aggregations'] = {'terms': {
                'doc_count_error_upper_bound': 0, 'sum_other_doc_count': len(values) - sum(n for _, n in top),
                'buckets': [{'key': key, 'doc_count': n} for key, n in top]}}
        elif analysis == 'score':  # guide 2.2: no aggregations; hits.hits [{id, count}], hits.count
            reply['hits']['hits'] = [{'id': key, 'count': n} for key, n in top]
            reply['hits']['count'] = len(records)
        else:  # trend, guide 2.2: no aggregations; hits.hits [{id, count, start, trend}], hits.count
            middle = start + (end - start) // 2
            early = search.value_counts([search.field_value(r, field_name) for r in records if r['epoch_ms'] < middle])
            reply['hits']['hits'] = [{'id': key, 'count': n, 'start': early.get(key, 0),
                                      'trend': round((n - 2 * early.get(key, 0)) / max(early.get(key, 0), 1) * 100, 2)}
                                     for key, n in top]
            reply['hits']['count'] = len(records)
    reply['kibana'] = search.kibana(query, start, end, size)
    return reply


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
        bucket: dict[str, Any] = {'key': key, 'key_as_string': format_iso(key), 'doc_count': len(values)}
        if mode == 'mean':
            numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            bucket['value'] = sum(numbers) / len(numbers) if numbers else None
        reply_buckets.append(bucket)
    reply = search.elastic(len(records), [])
    reply['aggregations'] = {mode: {'buckets': reply_buckets}}
    reply['kibana'] = search.kibana(query, start, end, 0)
    return reply
