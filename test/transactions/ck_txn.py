# Transactional confluent-kafka-python (librdkafka) producers driven by a test, one scenario per run.
#
# argv[1]: JSON {"mode": ..., "bootstrap": ..., "topic": ..., "txn_id": ..., ...}
# stdout: one JSON line with what happened; errors as {"name", "code", "fatal", "retriable", "abortable", "str"}.
#
# modes:
#   commit_abort  one transaction of `commit` messages committed, then one of `abort` messages aborted,
#                 then one more of `commit` messages committed; message i of a transaction goes to
#                 partition i % partitions. Reports delivery offsets per transaction.
#   fence         producer A opens a transaction and writes; producer B with the same transactional.id
#                 starts (init_transactions); then A tries to commit, B commits its own.
#   timeout       producer A opens a transaction, writes, and waits `sleep` seconds (past its
#                 transaction.timeout.ms); then it tries to commit.
import json
import sys
import time

from confluent_kafka import KafkaException, Producer

args = json.loads(sys.argv[1])
mode = args['mode']
topic = args['topic']


def err_json(e):
    err = e.args[0] if isinstance(e, KafkaException) else None
    if err is None or not hasattr(err, 'code'):
        return {'name': type(e).__name__, 'str': str(e)}
    return {'name': err.name(), 'code': err.code(), 'fatal': err.fatal(), 'retriable': err.retriable(),
            'abortable': err.txn_requires_abort(), 'str': err.str()}


def producer(extra=None):
    conf = {'bootstrap.servers': args['bootstrap'], 'transactional.id': args['txn_id'], 'linger.ms': 5}
    conf.update(args.get('conf', {}))
    conf.update(extra or {})
    p = Producer(conf)
    # Know the topic before producing: with a 1 s transaction.timeout.ms (which caps
    # message.timeout.ms), waiting for the first metadata refresh could time the messages out.
    p.list_topics(topic, timeout=10)
    return p


def produce_all(p, values, partitions, delivered):
    for i, v in enumerate(values):
        def cb(err, msg, v=v):
            delivered.append([v, None if err else msg.partition(), None if err else msg.offset(), str(err) if err else None])
        p.produce(topic, value=v.encode(), partition=i % partitions, on_delivery=cb)
    p.flush(30)


def attempt(fn):
    try:
        fn()
        return None
    except KafkaException as e:
        return err_json(e)


out = {}
if mode == 'commit_abort':
    p = producer()
    p.init_transactions(30)
    parts = args['partitions']
    for name, n, commit in [('t1', args['commit'], True), ('t2', args['abort'], False), ('t3', args['commit'], True)]:
        delivered = []
        p.begin_transaction()
        produce_all(p, ['%s-%d' % (name, i) for i in range(n)], parts, delivered)
        out[name] = {'delivered': delivered, 'end': attempt(lambda: p.commit_transaction(30) if commit else p.abort_transaction(30))}
elif mode == 'fence':
    a = producer({'client.id': 'A'})
    a.init_transactions(30)
    a.begin_transaction()
    delivered = []
    produce_all(a, ['a-0', 'a-1'], 1, delivered)
    out['a_delivered'] = delivered
    b = producer({'client.id': 'B'})
    out['b_init'] = attempt(lambda: b.init_transactions(30))
    out['a_commit'] = attempt(lambda: a.commit_transaction(30))
    out['a_begin_again'] = attempt(lambda: a.begin_transaction())
    b.begin_transaction()
    bd = []
    produce_all(b, ['b-0'], 1, bd)
    out['b_delivered'] = bd
    out['b_commit'] = attempt(lambda: b.commit_transaction(30))
elif mode == 'timeout':
    a = producer({'transaction.timeout.ms': args['timeout_ms']})
    a.init_transactions(30)
    a.begin_transaction()
    delivered = []
    produce_all(a, ['late-0', 'late-1'], 1, delivered)
    out['delivered'] = delivered
    time.sleep(args['sleep'])
    out['commit'] = attempt(lambda: a.commit_transaction(30))
else:
    raise SystemExit('unknown mode ' + mode)
print(json.dumps(out))
