# A confluent-kafka-python (librdkafka) group member driven by a test.
#
# argv[1]: JSON {"conf": {...librdkafka settings...}, "topics": [...], "limit": N or null}
# stdout: one JSON event per line:
#   {"ev": "subscribed"}
#   {"ev": "assign" | "revoke" | "lost", "partitions": [[topic, partition], ...]}   (incremental for cooperative)
#   {"ev": "msg", "t": topic, "p": partition, "o": offset, "v": value}
#   {"ev": "commit", "t", "p", "o"}               a synchronous commit of o (= msg offset + 1) succeeded
#   {"ev": "error", "where": ..., "err": ...}       (a failed commit is retried before the next poll and
#                                                   in on_revoke, as a careful application does)
#   {"ev": "limit", "consumed": N}                  after N messages: stops polling, waits for commands
#   {"ev": "closed"}
# stdin: one JSON command per line: {"cmd": "close"}.
# Every consumed message is committed synchronously before the next poll, so no rebalance callback
# (served only inside poll) can run between consuming a message and committing it.
import json
import queue
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

args = json.loads(sys.argv[1])
lock = threading.Lock()


def emit(ev, **kw):
    kw['ev'] = ev
    kw['ms'] = int(time.time() * 1000)
    with lock:
        sys.stdout.write(json.dumps(kw) + '\n')
        sys.stdout.flush()


commands = queue.Queue()


def read_commands():
    for line in sys.stdin:
        if line.strip():
            commands.put(json.loads(line))
    commands.put({'cmd': 'close'})  # the test went away


threading.Thread(target=read_commands, daemon=True).start()

conf = {
    'enable.auto.commit': False,
    'auto.offset.reset': 'earliest',
    'session.timeout.ms': 6000,
    'heartbeat.interval.ms': 200,
    'fetch.wait.max.ms': 50,
    'topic.metadata.refresh.interval.ms': 2000,
}
conf.update(args['conf'])
cooperative = conf.get('partition.assignment.strategy') == 'cooperative-sticky'
consumer = Consumer(conf)


def tps(partitions):
    return sorted([p.topic, p.partition] for p in partitions)


# (topic, partition) -> offset whose commit failed and must be retried.
pending = {}


def commit(c, offsets, where):
    try:
        c.commit(offsets=[TopicPartition(t, p, o) for (t, p, o) in offsets], asynchronous=False)
    except KafkaException as e:
        for (t, p, o) in offsets:
            emit('error', where=where, err=str(e), code=e.args[0].name(), t=t, p=p, o=o)
            pending[(t, p)] = o
        return
    for (t, p, o) in offsets:
        emit('commit', t=t, p=p, o=o, where=where)
        if pending.get((t, p)) == o:
            del pending[(t, p)]


def retry_pending(c, partitions=None):
    todo = [(t, p, o) for (t, p), o in list(pending.items()) if partitions is None or (t, p) in partitions]
    if todo:
        commit(c, todo, 'retry')


def on_assign(c, partitions):
    emit('assign', partitions=tps(partitions))
    if cooperative:
        c.incremental_assign(partitions)
    else:
        c.assign(partitions)


def on_revoke(c, partitions):
    emit('revoke', partitions=tps(partitions))
    revoked = {(p.topic, p.partition) for p in partitions}
    retry_pending(c, revoked)
    for k in revoked:
        pending.pop(k, None)
    if cooperative:
        c.incremental_unassign(partitions)
    else:
        c.unassign()


def on_lost(c, partitions):
    emit('lost', partitions=tps(partitions))
    for p in partitions:
        pending.pop((p.topic, p.partition), None)
    if cooperative:
        c.incremental_unassign(partitions)
    else:
        c.unassign()


consumer.subscribe(args['topics'], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
emit('subscribed')

limit = args.get('limit')
consumed = 0
while True:
    try:
        cmd = commands.get_nowait()
    except queue.Empty:
        cmd = None
    if cmd is not None and cmd['cmd'] == 'close':
        break
    if limit is not None and consumed >= limit:
        emit('limit', consumed=consumed)
        while commands.get()['cmd'] != 'close':
            pass
        break
    retry_pending(consumer)
    m = consumer.poll(0.1)
    if m is None:
        continue
    if m.error():
        if m.error().code() != KafkaError._PARTITION_EOF:
            emit('error', where='poll', err=str(m.error()))
        continue
    emit('msg', t=m.topic(), p=m.partition(), o=m.offset(), v=None if m.value() is None else m.value().decode())
    consumed += 1
    commit(consumer, [(m.topic(), m.partition(), m.offset() + 1)], 'commit')

retry_pending(consumer)
consumer.close()
emit('closed')
