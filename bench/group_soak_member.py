# A confluent-kafka-python (librdkafka) group member for `npm run soak:groups`: prints
# "partition offset value" for every message; SIGTERM closes it cleanly (last commit, leave).
import signal
import sys

from confluent_kafka import Consumer

bootstrap, group, topic, strategy = sys.argv[1:5]
consumer = Consumer({
    'bootstrap.servers': bootstrap,
    'group.id': group,
    'auto.offset.reset': 'earliest',
    'session.timeout.ms': 6000,
    'heartbeat.interval.ms': 500,
    'auto.commit.interval.ms': 300,
    'partition.assignment.strategy': strategy,
})
running = True


def stop(*_):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)
consumer.subscribe([topic])
while running:
    m = consumer.poll(0.2)
    if m is None or m.error():
        continue
    sys.stdout.write('%d %d %s\n' % (m.partition(), m.offset(), m.value().decode()))
    sys.stdout.flush()
consumer.close()
