#!/usr/bin/python3
"""confluent-kafka-python driver for the compat suite (Debian python3-confluent-kafka, librdkafka
from Debian). Reads one op as JSON on stdin (see compat/ops.ts), prints one JSON result line."""
import time

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

import driver_common
from driver_common import Failure, serve

ASSIGN_TIMEOUT = 30



def common(req):
    return {'bootstrap.servers': req['bootstrap'], 'client.id': req['clientId']}


def admin(req):
    return AdminClient(common(req))


def wait_all(futures):
    for f in futures.values():
        f.result(timeout=30)


def admin_call(req, method, *args, **kwargs):
    """Calls an AdminClient method and waits for its futures while the client is still referenced."""
    a = admin(req)
    futures = getattr(a, method)(*args, **kwargs)
    return [f.result(timeout=30) for f in futures.values()]


def text(b):
    return None if b is None else b.decode('utf-8')


def to_in(m):
    return {
        'partition': m.partition(),
        'offset': m.offset(),
        'key': text(m.key()),
        'value': text(m.value()),
        'headers': [[k, text(v)] for k, v in (m.headers() or [])],
        'timestamp': m.timestamp()[1],
    }


def consumer(req, group, **extra):
    conf = {**common(req), 'group.id': group, 'enable.auto.commit': False, 'auto.offset.reset': 'earliest',
            'fetch.wait.max.ms': 100, 'session.timeout.ms': 10000, 'heartbeat.interval.ms': 500}
    conf.update(extra)
    return Consumer(conf)


def poll_error(m):
    """A message carrying an error (other than partition EOF) becomes an exception."""
    if m is None:
        return None
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            return None
        raise KafkaException(m.error())
    return m


def until(check, timeout, what, poll=None):
    return driver_common.until(check, timeout, what, poll, poll_waits=True)

def op_version(op, req):
    return {'version': '%s (librdkafka %s)' % (confluent_kafka.version()[0], confluent_kafka.libversion()[0])}


def op_create_topic(op, req):
    admin_call(req, 'create_topics', [NewTopic(op['topic'], num_partitions=op['partitions'], replication_factor=1, config=op.get('configs') or {})])


def op_list_topics(op, req):
    return {'topics': list(admin(req).list_topics(timeout=10).topics.keys())}


def op_describe_topic(op, req):
    t = admin(req).list_topics(topic=op['topic'], timeout=10).topics[op['topic']]
    if t.error is not None:
        raise KafkaException(t.error)
    return {'partitions': len(t.partitions)}


def op_delete_topic(op, req):
    admin_call(req, 'delete_topics', [op['topic']], operation_timeout=10)


def op_produce(op, req):
    conf = {**common(req), 'acks': 'all', 'allow.auto.create.topics': False, 'topic.metadata.propagation.max.ms': 2000,
            'message.timeout.ms': 20000, 'compression.type': op.get('compression') or 'none'}
    if op.get('idempotent'):
        conf['enable.idempotence'] = True
    p = Producer(conf)
    errors, offsets = [], []

    def delivered(err, msg):
        if err is not None:
            errors.append(err)
        else:
            offsets.append({'partition': msg.partition(), 'offset': msg.offset()})

    for m in op['messages']:
        kw = {'key': m['key'], 'value': m['value'], 'headers': [(k, v) for k, v in m.get('headers') or []], 'on_delivery': delivered}
        if m.get('timestamp') is not None:
            kw['timestamp'] = m['timestamp']
        if m.get('partition') is not None:
            kw['partition'] = m['partition']
        p.produce(op['topic'], **kw)
    left = p.flush(30)
    if errors:
        raise KafkaException(errors[0])
    if left:
        raise Failure('%d messages still undelivered' % left)
    return {'offsets': offsets}


def op_offset_for_time(op, req):
    c = consumer(req, req['clientId'] + '-times')
    try:
        r = c.offsets_for_times([TopicPartition(op['topic'], op['partition'], op['timestamp'])], timeout=10)
        if r[0].error:
            raise KafkaException(r[0].error)
        return {'offset': r[0].offset}
    finally:
        c.close()


def op_consume(op, req):
    extra = {'isolation.level': op.get('isolation') or 'read_committed'}
    if op.get('strict'):
        extra['auto.offset.reset'] = 'error'
    c = consumer(req, req['clientId'] + '-reader', **extra)
    try:
        frm = op['from']
        tp = TopicPartition(op['topic'], op['partition'], confluent_kafka.OFFSET_BEGINNING)
        if isinstance(frm, dict) and 'offset' in frm:
            tp.offset = frm['offset']
        elif isinstance(frm, dict) and 'timestamp' in frm:
            tp = c.offsets_for_times([TopicPartition(op['topic'], op['partition'], frm['timestamp'])], timeout=10)[0]
        c.assign([tp])
        got = []
        deadline = time.time() + op['timeoutMs'] / 1000
        while len(got) < op['count'] and time.time() < deadline:
            m = poll_error(c.poll(0.2))
            if m is not None and m.partition() == op['partition']:
                got.append(to_in(m))
        return {'messages': got}
    finally:
        c.close()


def op_group_consume(op, req):
    c = consumer(req, op['group'])
    try:
        c.subscribe([op['topic']])
        got = []
        deadline = time.time() + op['timeoutMs'] / 1000
        while len(got) < op['count'] and time.time() < deadline:
            m = poll_error(c.poll(0.2))
            if m is None:
                continue
            got.append(to_in(m))
            c.commit(message=m, asynchronous=False)
        return {'messages': got}
    finally:
        c.close()


class Member:
    def __init__(self, req, topic, group, **extra):
        self.topic = topic
        self.assigned = []
        self.events = 0
        self.consumed = []
        self.c = consumer(req, group, **{'enable.auto.commit': True, **extra})
        self.c.subscribe([topic], on_assign=self.on_assign, on_revoke=self.on_revoke)

    def on_assign(self, c, parts):
        self.events += 1
        self.assigned = sorted(p.partition for p in parts if p.topic == self.topic)

    def on_revoke(self, c, parts):
        self.events += 1
        self.assigned = []

    def poll(self):
        m = poll_error(self.c.poll(0.05))
        if m is not None:
            self.consumed.append({'partition': m.partition(), 'value': text(m.value())})


def op_rebalance(op, req):
    members = []
    timeout = op['timeoutMs'] / 1000
    try:
        a = Member(req, op['topic'], op['group'])
        members.append(a)
        poll = lambda: [m.poll() for m in members]
        until(lambda: len(a.consumed) >= op['preCount'] and len(a.assigned) == op['partitions'], timeout, 'member A alone', poll)
        phase1 = list(a.assigned)
        b = Member(req, op['topic'], op['group'])
        members.append(b)
        until(lambda: a.assigned and b.assigned and len(a.assigned) + len(b.assigned) == op['partitions'] and not set(a.assigned) & set(b.assigned),
              timeout, 'A and B sharing the partitions', poll)
        phase2 = {'A': list(a.assigned), 'B': list(b.assigned)}
        p = Producer({**common(req), 'acks': 'all'})
        post = ['post-%d-%d' % (part, i) for part in range(op['partitions']) for i in range(2)]
        for v in post:
            p.produce(op['topic'], value=v, partition=int(v.split('-')[1]))
        p.flush(20)
        seen = lambda: all(any(x['value'] == v for x in a.consumed + b.consumed) for v in post)
        until(seen, timeout, 'post-rebalance messages consumed', poll)
        return {'phase1': phase1, 'phase2': phase2, 'consumed': {'A': a.consumed, 'B': b.consumed}}
    finally:
        for m in members:
            m.c.close()


def op_static_membership(op, req):
    members = []
    timeout = op['timeoutMs'] / 1000
    opts = lambda i: {'group.instance.id': i, 'partition.assignment.strategy': 'range'}
    try:
        a = Member(req, op['topic'], op['group'], **opts('a'))
        b = Member(req, op['topic'], op['group'], **opts('b'))
        members += [a, b]
        poll = lambda: [m.poll() for m in members]
        until(lambda: len(a.assigned) == 1 and len(b.assigned) == 1 and a.assigned != b.assigned, timeout, 'A and B with one partition each', poll)
        end = time.time() + 1.5
        until(lambda: time.time() > end, 5, 'settle', poll)
        before = {'A': list(a.assigned), 'B': list(b.assigned)}
        b_before = b.events
        a.c.close()
        members.remove(a)
        a2 = Member(req, op['topic'], op['group'], **opts('a'))
        members.append(a2)
        until(lambda: a2.assigned, timeout, 'restarted A assigned', poll)
        end = time.time() + 3
        until(lambda: time.time() > end, 10, 'settle', poll)
        return {'before': before, 'after': {'A': list(a2.assigned)}, 'bEventsBefore': b_before, 'bEventsAfter': b.events}
    finally:
        for m in members:
            m.c.close()


def op_transactions(op, req):
    p = Producer({**common(req), 'transactional.id': op['transactionalId'], 'acks': 'all'})
    c = consumer(req, op['group'])
    try:
        p.init_transactions(30)

        def batch(values, commit, offsets=False):
            p.begin_transaction()
            for v in values:
                p.produce(op['topic'], value=v, partition=0)
            # Deliver before committing or aborting: an abort purges what is still queued locally.
            p.flush(30)
            if offsets:
                p.send_offsets_to_transaction([TopicPartition(op['topic'], 0, 3)], c.consumer_group_metadata(), 30)
            if commit:
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)

        batch(['t1-0', 't1-1', 't1-2'], True)
        batch(['t2-0', 't2-1'], False)
        batch(['t3-0', 't3-1'], True, True)
        return {'sentOffsets': True}
    finally:
        c.close()


def op_describe_configs(op, req):
    entries = admin_call(req, 'describe_configs', [ConfigResource('topic', op['topic'])])[0]
    return {'configs': {k: v.value for k, v in entries.items() if k in op['names']}}


def op_alter_configs(op, req):
    admin_call(req, 'alter_configs', [ConfigResource('topic', op['topic'], set_config=op['configs'])])


def op_create_partitions(op, req):
    admin_call(req, 'create_partitions', [NewPartitions(op['topic'], op['count'])])


def op_set_group_offsets(op, req):
    # confluent-kafka-python 1.7 has no alter_consumer_group_offsets: a consumer with the group's
    # group.id commits the offsets explicitly without subscribing (so without joining the group).
    c = consumer(req, op['group'])
    try:
        tps = c.commit(offsets=[TopicPartition(op['topic'], o['partition'], o['offset']) for o in op['offsets']], asynchronous=False)
        for tp in tps or []:
            if tp.error is not None:
                raise KafkaException(tp.error)
    finally:
        c.close()


OPS = {
    'version': op_version, 'createTopic': op_create_topic, 'listTopics': op_list_topics, 'describeTopic': op_describe_topic,
    'deleteTopic': op_delete_topic, 'produce': op_produce, 'offsetForTime': op_offset_for_time, 'consume': op_consume,
    'groupConsume': op_group_consume, 'rebalance': op_rebalance, 'staticMembership': op_static_membership,
    'transactions': op_transactions, 'describeConfigs': op_describe_configs, 'alterConfigs': op_alter_configs,
    'createPartitions': op_create_partitions, 'setGroupOffsets': op_set_group_offsets,
}


def describe(e):
    err = e.args[0] if isinstance(e, KafkaException) and e.args and isinstance(e.args[0], KafkaError) else e
    if isinstance(err, KafkaError):
        return {'name': err.name(), 'code': err.code(), 'message': err.str()}
    return {'name': type(e).__name__, 'message': str(e)[:600]}


if __name__ == '__main__':
    serve(OPS, describe)
