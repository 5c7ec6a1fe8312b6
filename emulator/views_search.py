"""Advanced Search replies in the API's Elasticsearch-like shapes (guide 2.1 to 2.3), built from search.py's records."""
from __future__ import annotations

from typing import Any

from emulator.catalog import APPLIANCE_HOSTNAME
from emulator.dataset import format_iso


def kibana(query: dict[str, Any], start: int, end: int, size: int) -> dict[str, Any]:
    """The `kibana` object every Advanced Search reply ends with (guide 2.1: {index[], per_page, time{from, to},
    default_fields[]})."""
    return {'index': [f'logstash-{APPLIANCE_HOSTNAME}-{format_iso(start)[:10].replace("-", ".")}'],
            'per_page': size, 'time': {'from': format_iso(start), 'to': format_iso(end)},
            'default_fields': ['@type', '@fields.source_ip', '@fields.dest_ip', '@fields.dest_port'],
            'search': query.get('search', '')}


def elastic(total: int, hits: list[dict[str, Any]], max_score: Any = None) -> dict[str, Any]:
    """The Elasticsearch head of a reply (guide 2.1): took, timed_out, _shards{…}, hits{total, max_score, hits[]}."""
    return {'took': 3 + total // 500, 'timed_out': False,
            '_shards': {'total': 1, 'successful': 1, 'skipped': 0, 'failed': 0},
            'hits': {'total': total, 'max_score': max_score, 'hits': hits}}


# ---------------------------------------------------------------------- /advancedsearch/api/search
def search_hit(record: dict[str, Any]) -> dict[str, Any]:
    """One `hits.hits` record (guide 2.1): {_index, _type, _id, _score, _source{@fields, @type, @timestamp}, sort}."""
    return {'_index': f'logstash-{APPLIANCE_HOSTNAME}-{record["@timestamp"][:10].replace("-", ".")}', '_type': 'doc',
            '_id': record['@fields']['uid'], '_score': None,
            '_source': {'@fields': dict(record['@fields']), '@type': record['@type'],
                        '@timestamp': record['@timestamp'], 'source_device': record['source_device']},
            'sort': [record['epoch_ms']]}


def search_reply(total: int, hits: list[dict[str, Any]], kibana_object: dict[str, Any]) -> dict[str, Any]:
    """/advancedsearch/api/search (guide 2.1): the Elasticsearch head with its hits, then `kibana`."""
    return {**elastic(total, hits), 'kibana': kibana_object}


# ---------------------------------------------------------------------- /advancedsearch/api/analyze
def analyze_reply(total: int, kibana_object: dict[str, Any], *, aggregations: dict[str, Any] | None = None,
                  hits: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """/advancedsearch/api/analyze. guide 2.2: every type shares took, timed_out, _shards, hits, darktraceChildError
    and kibana; terms and mean add `aggregations`, trend and score put their `hits` in hits.hits with hits.count."""
    reply = elastic(total, [])
    reply['darktraceChildError'] = ''
    if aggregations is not None:
        reply['aggregations'] = aggregations
    if hits is not None:
        reply['hits']['hits'] = hits
        reply['hits']['count'] = total
    reply['kibana'] = kibana_object
    return reply


def stats_aggregation(count: int, minimum: Any, maximum: Any, average: Any, total: Any) -> dict[str, Any]:
    """mean's `aggregations` (guide 2.2: aggregations.stats {count, min, max, avg, sum}; no buckets)."""
    return {'stats': {'count': count, 'min': minimum, 'max': maximum, 'avg': average, 'sum': total}}


def terms_aggregation(other_count: int, top: list[tuple[Any, int]]) -> dict[str, Any]:
    """terms' `aggregations` (guide 2.2: aggregations.terms {doc_count_error_upper_bound, sum_other_doc_count,
    buckets[{key, doc_count}]})."""
    return {'terms': {'doc_count_error_upper_bound': 0, 'sum_other_doc_count': other_count,
                      'buckets': [{'key': key, 'doc_count': n} for key, n in top]}}


def score_hit(key: Any, count: int) -> dict[str, Any]:
    """A score hit (guide 2.2: no aggregations; hits.hits [{id, count}], hits.count)."""
    return {'id': key, 'count': count}


def trend_hit(key: Any, count: int, start: int, trend: float) -> dict[str, Any]:
    """A trend hit (guide 2.2: no aggregations; hits.hits [{id, count, start, trend}], hits.count)."""
    return {'id': key, 'count': count, 'start': start, 'trend': trend}


# ---------------------------------------------------------------------- /advancedsearch/api/graph
def graph_bucket(key: int, doc_count: int) -> dict[str, Any]:
    """A count bucket (guide 2.3: aggregations.count.buckets[{key (ms), doc_count}]), with key_as_string."""
    return {'key': key, 'key_as_string': format_iso(key), 'doc_count': doc_count}


def mean_graph_bucket(key: int, doc_count: int, value: float | None) -> dict[str, Any]:
    """A mean bucket (guide 2.3: aggregations.mean.buckets[{key_as_string, key, doc_count, …}]); this emulator
    gives the mean as `value`."""
    return {**graph_bucket(key, doc_count), 'value': value}


def graph_reply(total: int, mode: str, buckets: list[dict[str, Any]], kibana_object: dict[str, Any]) -> dict[str, Any]:
    """/advancedsearch/api/graph (guide 2.3): the Elasticsearch head, aggregations.<mode>.buckets, kibana."""
    reply = elastic(total, [])
    reply['aggregations'] = {mode: {'buckets': buckets}}
    reply['kibana'] = kibana_object
    return reply
