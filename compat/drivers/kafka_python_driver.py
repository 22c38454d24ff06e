#!/usr/bin/python3
"""kafka-python driver for the compat suite (Debian python3-kafka; snappy, lz4 and zstd through
Debian's python3-snappy, python3-lz4 and python3-zstandard, as kafka-python documents). Reads one op
as JSON on stdin (see compat/ops.ts), prints one JSON result line."""
import logging
import threading
import time

import kafka
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata

from driver_common import Failure, serve, until

logging.disable(logging.CRITICAL)



def b(s):
    return None if s is None else s.encode('utf-8')


def text(x):
    return None if x is None else x.decode('utf-8')


def to_in(r):
    return {'partition': r.partition, 'offset': r.offset, 'key': text(r.key), 'value': text(r.value),
            'headers': [[k, text(v)] for k, v in (r.headers or [])], 'timestamp': r.timestamp}


def common(req):
    return {'bootstrap_servers': [req['bootstrap']], 'client_id': req['clientId']}


def admin(req):
    return KafkaAdminClient(**common(req))


def check_response(resp, what):
    """kafka-python admin calls return raw responses: raise the first per-resource error as its class."""
    for item in getattr(resp, 'topic_errors', []) or getattr(resp, 'topic_error_codes', []) or []:
        if item[1]:
            raise kafka.errors.for_code(item[1])('%s %s: %s' % (what, item[0], item[2] if len(item) > 2 else ''))


def consumer(req, **extra):
    conf = {**common(req), 'enable_auto_commit': False, 'auto_offset_reset': 'earliest', 'fetch_max_wait_ms': 100,
            'session_timeout_ms': 10000, 'heartbeat_interval_ms': 500, 'api_version_auto_timeout_ms': 10000}
    conf.update(extra)
    return KafkaConsumer(**conf)


def op_version(op, req):
    return {'version': kafka.__version__}


def op_create_topic(op, req):
    configs = op.get('configs') or {}
    resp = admin(req).create_topics([NewTopic(op['topic'], op['partitions'], 1, topic_configs=configs)], timeout_ms=10000)
    check_response(resp, 'create_topics')


def op_list_topics(op, req):
    return {'topics': admin(req).list_topics()}


def op_describe_topic(op, req):
    c = consumer(req)
    try:
        parts = c.partitions_for_topic(op['topic'])
        if parts is None:
            raise kafka.errors.UnknownTopicOrPartitionError(op['topic'])
        return {'partitions': len(parts)}
    finally:
        c.close()


def op_delete_topic(op, req):
    resp = admin(req).delete_topics([op['topic']], timeout_ms=10000)
    check_response(resp, 'delete_topics')


def op_produce(op, req):
    codec = op.get('compression')
    p = KafkaProducer(**common(req), acks='all', compression_type=None if codec in (None, 'none') else codec, linger_ms=5,
                      max_block_ms=10000, retries=2)
    try:
        futures = []
        for m in op['messages']:
            futures.append(p.send(op['topic'], value=b(m['value']), key=b(m['key']),
                                  headers=[(k, b(v)) for k, v in m.get('headers') or []],
                                  timestamp_ms=m.get('timestamp'), partition=m.get('partition')))
        p.flush(30)
        offsets = []
        for f in futures:
            md = f.get(timeout=30)
            offsets.append({'partition': md.partition, 'offset': md.offset})
        return {'offsets': offsets}
    finally:
        p.close(5)


def op_offset_for_time(op, req):
    c = consumer(req)
    try:
        tp = TopicPartition(op['topic'], op['partition'])
        r = c.offsets_for_times({tp: op['timestamp']})[tp]
        return {'offset': -1 if r is None else r.offset}
    finally:
        c.close()


def op_consume(op, req):
    extra = {'auto_offset_reset': 'none'} if op.get('strict') else {}
    c = consumer(req, **extra)
    try:
        tp = TopicPartition(op['topic'], op['partition'])
        c.assign([tp])
        frm = op['from']
        if frm == 'earliest':
            c.seek_to_beginning(tp)
        elif 'offset' in frm:
            c.seek(tp, frm['offset'])
        else:
            r = c.offsets_for_times({tp: frm['timestamp']})[tp]
            c.seek(tp, r.offset)
        got = []
        deadline = time.time() + op['timeoutMs'] / 1000
        while len(got) < op['count'] and time.time() < deadline:
            for records in c.poll(timeout_ms=200).values():
                got.extend(to_in(r) for r in records)
        return {'messages': got[:op['count']]}
    finally:
        c.close()


def op_group_consume(op, req):
    c = consumer(req, group_id=op['group'], max_poll_records=1)
    try:
        c.subscribe([op['topic']])
        got = []
        deadline = time.time() + op['timeoutMs'] / 1000
        while len(got) < op['count'] and time.time() < deadline:
            for tp, records in c.poll(timeout_ms=200).items():
                for r in records:
                    if len(got) >= op['count']:
                        break
                    got.append(to_in(r))
                    c.commit({tp: OffsetAndMetadata(r.offset + 1, None)})
        return {'messages': got}
    finally:
        c.close()


class Member(ConsumerRebalanceListener):
    """A group member polling in a thread of its own: kafka-python joins the group inside poll(), which
    blocks until every member has rejoined, so members cannot share one thread."""

    def __init__(self, req, topic, group):
        self.topic = topic
        self.assigned = []
        self.consumed = []
        self.error = None
        self.running = True
        self.c = consumer(req, group_id=group, enable_auto_commit=True)
        self.c.subscribe([topic], listener=self)
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def on_partitions_assigned(self, assigned):
        self.assigned = sorted(tp.partition for tp in assigned if tp.topic == self.topic)

    def on_partitions_revoked(self, revoked):
        self.assigned = []

    def loop(self):
        try:
            while self.running:
                for records in self.c.poll(timeout_ms=100).values():
                    self.consumed.extend({'partition': r.partition, 'value': text(r.value)} for r in records)
        except Exception as e:  # reported by the waiting side
            self.error = e

    def close(self):
        self.running = False
        self.thread.join(15)
        self.c.close()


def op_rebalance(op, req):
    members = []
    timeout = op['timeoutMs'] / 1000

    def check_errors():
        for m in members:
            if m.error:
                raise m.error

    try:
        a = Member(req, op['topic'], op['group'])
        members.append(a)
        until(lambda: len(a.consumed) >= op['preCount'] and len(a.assigned) == op['partitions'], timeout, 'member A alone', check_errors)
        phase1 = list(a.assigned)
        b_ = Member(req, op['topic'], op['group'])
        members.append(b_)
        until(lambda: a.assigned and b_.assigned and len(a.assigned) + len(b_.assigned) == op['partitions'] and not set(a.assigned) & set(b_.assigned),
              timeout, 'A and B sharing the partitions', check_errors)
        phase2 = {'A': list(a.assigned), 'B': list(b_.assigned)}
        p = KafkaProducer(**common(req), acks='all')
        post = ['post-%d-%d' % (part, i) for part in range(op['partitions']) for i in range(2)]
        for v in post:
            p.send(op['topic'], value=b(v), partition=int(v.split('-')[1]))
        p.flush(20)
        p.close(5)
        seen = lambda: all(any(x['value'] == v for x in a.consumed + b_.consumed) for v in post)
        until(seen, timeout, 'post-rebalance messages consumed', check_errors)
        return {'phase1': phase1, 'phase2': phase2, 'consumed': {'A': list(a.consumed), 'B': list(b_.consumed)}}
    finally:
        for m in members:
            m.close()


def op_describe_configs(op, req):
    resp = admin(req).describe_configs([ConfigResource(ConfigResourceType.TOPIC, op['topic'], configs={n: None for n in op['names']})])
    configs = {}
    for r in resp:
        for (code, msg, _type, _name, entries) in r.resources:
            if code:
                raise kafka.errors.for_code(code)(msg)
            for e in entries:
                if e[0] in op['names']:
                    configs[e[0]] = e[1]
    return {'configs': configs}


def op_alter_configs(op, req):
    resp = admin(req).alter_configs([ConfigResource(ConfigResourceType.TOPIC, op['topic'], configs=op['configs'])])
    for (code, msg, _type, _name) in resp.resources:
        if code:
            raise kafka.errors.for_code(code)(msg)


def op_create_partitions(op, req):
    resp = admin(req).create_partitions({op['topic']: NewPartitions(op['count'])}, timeout_ms=10000)
    check_response(resp, 'create_partitions')


# Kafka's group state names (DescribeGroups); brokers before 2.0 called CompletingRebalance AwaitingSync.
LEGACY_STATES = {'AwaitingSync': 'CompletingRebalance'}


def op_list_groups(op, req):
    # list_consumer_groups answers (group id, protocol type) tuples from ListGroups v0-2: no state.
    a = admin(req)
    try:
        return {'groups': [{'groupId': g[0], 'protocolType': g[1]} for g in a.list_consumer_groups()]}
    finally:
        a.close()


def op_describe_group(op, req):
    a = admin(req)
    try:
        g = a.describe_consumer_groups([op['group']])[0]
        return {'state': LEGACY_STATES.get(g.state, g.state), 'protocolType': g.protocol_type, 'members': len(g.members)}
    finally:
        a.close()


def op_group_offsets(op, req):
    a = admin(req)
    try:
        tps = [TopicPartition(op['topic'], p) for p in range(op['partitions'])]
        offsets = a.list_consumer_group_offsets(op['group'], partitions=tps)
        return {'offsets': [{'partition': tp.partition, 'offset': offsets[tp].offset if tp in offsets else -1} for tp in tps]}
    finally:
        a.close()


def op_set_group_offsets(op, req):
    # kafka-python 2.0 has no admin call to alter a group's offsets: a consumer with the group's
    # group_id commits them explicitly without subscribing (so without joining the group).
    c = consumer(req, group_id=op['group'])
    try:
        c.commit({TopicPartition(op['topic'], o['partition']): OffsetAndMetadata(o['offset'], None) for o in op['offsets']})
    finally:
        c.close()


def op_delete_group(op, req):
    a = admin(req)
    try:
        for group, error in a.delete_consumer_groups([op['group']]):
            if error is not kafka.errors.NoError:
                raise error('delete_consumer_groups %s' % group)
    finally:
        a.close()


OPS = {
    'version': op_version, 'createTopic': op_create_topic, 'listTopics': op_list_topics, 'describeTopic': op_describe_topic,
    'deleteTopic': op_delete_topic, 'produce': op_produce, 'offsetForTime': op_offset_for_time, 'consume': op_consume,
    'groupConsume': op_group_consume, 'rebalance': op_rebalance, 'describeConfigs': op_describe_configs,
    'alterConfigs': op_alter_configs, 'createPartitions': op_create_partitions, 'listGroups': op_list_groups,
    'describeGroup': op_describe_group, 'groupOffsets': op_group_offsets, 'setGroupOffsets': op_set_group_offsets,
    'deleteGroup': op_delete_group,
}


def describe(e):
    code = getattr(e, 'errno', None)
    out = {'name': type(e).__name__, 'message': (str(e) or type(e).__name__)[:600]}
    if isinstance(code, int):
        out['code'] = code
    return out


if __name__ == '__main__':
    serve(OPS, describe)
