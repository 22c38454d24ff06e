# A consume-transform-produce loop with confluent-kafka-python (librdkafka), exactly once:
# each batch read from the input is written to the output and its offsets committed in one
# transaction (send_offsets_to_transaction). On an abortable error the transaction is aborted and the
# consumer rewound to the committed offsets; on a fatal one the producer is replaced (its
# init_transactions fences the old one) and the consumer rewound. The broker may die and come back
# on the same address at any time.
#
# argv[1]: JSON {"bootstrap", "input", "output", "group", "txn_id", "total": N, "batch": max per txn}
# stdout: one JSON event per line:
#   {"ev": "ready"}
#   {"ev": "commit", "n": messages in the transaction, "total": committed input offsets summed}
#   {"ev": "txn_error", "where", "name", "fatal", "retriable", "abortable", "str"}
#   {"ev": "rewind", "to": {partition: offset}}
#   {"ev": "new_producer"}
#   {"ev": "done", "total": N}
import json
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

args = json.loads(sys.argv[1])
total = args['total']


def emit(ev, **kw):
    kw['ev'] = ev
    kw['ms'] = int(time.time() * 1000)
    sys.stdout.write(json.dumps(kw) + '\n')
    sys.stdout.flush()


def err_fields(e):
    err = e.args[0] if isinstance(e, KafkaException) and e.args else None
    if err is None or not hasattr(err, 'code'):
        return {'name': type(e).__name__, 'str': str(e), 'fatal': False, 'retriable': False, 'abortable': False}
    return {'name': err.name(), 'str': err.str(), 'fatal': err.fatal(), 'retriable': err.retriable(), 'abortable': err.txn_requires_abort()}


consumer = Consumer({
    'bootstrap.servers': args['bootstrap'],
    'group.id': args['group'],
    'enable.auto.commit': False,
    'auto.offset.reset': 'earliest',
    'isolation.level': 'read_committed',
    'session.timeout.ms': 10000,
    'heartbeat.interval.ms': 500,
    'fetch.wait.max.ms': 50,
    'reconnect.backoff.ms': 50,
    'reconnect.backoff.max.ms': 500,
})


def new_producer():
    p = Producer({
        'bootstrap.servers': args['bootstrap'],
        'transactional.id': args['txn_id'],
        'linger.ms': 5,
        'reconnect.backoff.ms': 50,
        'reconnect.backoff.max.ms': 500,
    })
    while True:
        try:
            p.init_transactions(30)
            return p
        except KafkaException as e:
            emit('txn_error', where='init', **err_fields(e))
            if not e.args[0].retriable():
                raise


producer = new_producer()
consumer.subscribe([args['input']])
emit('ready')

committed = {}  # partition -> next offset to process, as committed


def rewind():
    """Back to the committed offsets (the output written so far is exactly the input before them)."""
    while True:
        try:
            assignment = consumer.assignment()
            if not assignment:
                return
            tps = consumer.committed(assignment, timeout=10)
            break
        except KafkaException as e:
            emit('txn_error', where='committed', **err_fields(e))
            time.sleep(0.2)
    to = {}
    for tp in tps:
        off = tp.offset if tp.offset >= 0 else 0
        to[tp.partition] = off
        committed[tp.partition] = off
        consumer.seek(TopicPartition(tp.topic, tp.partition, off if tp.offset >= 0 else OFFSET_BEGINNING))
    emit('rewind', to=to)


def abort():
    global producer
    while True:
        try:
            producer.abort_transaction(30)
            return
        except KafkaException as e:
            emit('txn_error', where='abort', **err_fields(e))
            if e.args[0].fatal():
                producer = new_producer()
                emit('new_producer')
                return
            if not e.args[0].retriable():
                producer = new_producer()
                emit('new_producer')
                return


while sum(committed.values()) < total:
    msgs = consumer.consume(num_messages=args['batch'], timeout=0.2)
    msgs = [m for m in msgs if m.error() is None]
    if not msgs:
        continue
    offsets = {}
    try:
        producer.begin_transaction()
        for m in msgs:
            while True:
                try:
                    producer.produce(args['output'], key=m.key(), value=b'out-' + m.value(), partition=m.partition())
                    break
                except BufferError:
                    producer.poll(0.05)
            offsets[m.partition()] = m.offset() + 1
        tps = [TopicPartition(args['input'], p, o) for p, o in offsets.items()]
        producer.send_offsets_to_transaction(tps, consumer.consumer_group_metadata(), 60)
        while True:
            try:
                producer.commit_transaction(60)
                break
            except KafkaException as e:
                if e.args[0].retriable():
                    emit('txn_error', where='commit-retry', **err_fields(e))
                    continue
                raise
    except KafkaException as e:
        f = err_fields(e)
        emit('txn_error', where='txn', **f)
        if f['fatal']:
            producer = new_producer()
            emit('new_producer')
        else:
            abort()
        rewind()
        continue
    committed.update(offsets)
    emit('commit', n=len(msgs), total=sum(committed.values()))

emit('done', total=sum(committed.values()))
consumer.close()
