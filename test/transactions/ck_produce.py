# An idempotent confluent-kafka-python (librdkafka) producer driven by a test.
#
# argv[1]: JSON {"conf": {...}, "topic": t, "count": N, "partitions": P}
# Produces message i (value "i") to partition i % P, in order, then flushes.
# stdout: one JSON line {"delivered": n, "errors": [[i, err], ...], "offsets": [offset of message i, ...]}
import json
import sys

from confluent_kafka import Producer

args = json.loads(sys.argv[1])
conf = {'enable.idempotence': True}
conf.update(args['conf'])
count = args['count']
parts = args['partitions']
offsets = [-1] * count
errors = []


def on_delivery(i):
    def cb(err, msg):
        if err is not None:
            errors.append([i, str(err)])
        else:
            offsets[i] = msg.offset()
    return cb


p = Producer(conf)
for i in range(count):
    while True:
        try:
            p.produce(args['topic'], value=str(i).encode(), partition=i % parts, on_delivery=on_delivery(i))
            break
        except BufferError:
            p.poll(0.05)
    if i % 1000 == 0:
        p.poll(0)
left = p.flush(args.get('flush_timeout', 120))
print(json.dumps({'delivered': sum(1 for o in offsets if o >= 0), 'undelivered': left, 'errors': errors[:20], 'offsets': offsets}))
