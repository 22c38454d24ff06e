"""confluent-kafka-python AdminClient against Samsa: create_partitions (validate_only, real,
refusals) and list_topics. Prints one JSON object with what it saw."""
import json
import sys

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

args = json.loads(sys.argv[1])
topic = args['topic']
admin = AdminClient({'bootstrap.servers': args['bootstrap']})
out = {}


def partitions():
    md = admin.list_topics(topic=topic, timeout=10)
    return sorted(md.topics[topic].partitions.keys())


def error_of(futures):
    try:
        futures[topic].result(timeout=10)
        return None
    except KafkaException as e:
        return e.args[0].name()


admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=10)
out['created'] = partitions()
out['validate_only'] = error_of(admin.create_partitions([NewPartitions(topic, 4)], validate_only=True))
out['after_validate_only'] = partitions()
out['grow'] = error_of(admin.create_partitions([NewPartitions(topic, 4)]))
out['after_grow'] = partitions()
out['same_count'] = error_of(admin.create_partitions([NewPartitions(topic, 4)]))
out['other_broker'] = error_of(admin.create_partitions([NewPartitions(topic, 5, [[args['node_id'] + 1]])]))
out['own_broker'] = error_of(admin.create_partitions([NewPartitions(topic, 5, [[args['node_id']]])]))
out['after_assignment'] = partitions()
md = admin.list_topics(timeout=10)
out['topics'] = sorted(t for t in md.topics if not t.startswith('__'))
out['brokers'] = sorted(md.brokers.keys())
out['controller_id'] = md.controller_id
out['leaders'] = sorted({p.leader for p in md.topics[topic].partitions.values()})
print(json.dumps(out))
