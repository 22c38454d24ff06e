"""kafka-python KafkaAdminClient against Samsa: create_partitions, describe_topics and
describe_cluster. Prints one JSON object with what it saw."""
import json
import sys

from kafka import KafkaAdminClient
from kafka.admin import NewPartitions, NewTopic

args = json.loads(sys.argv[1])
topic = args['topic']
admin = KafkaAdminClient(bootstrap_servers=args['bootstrap'], client_id='kp-admin')
out = {}


def partitions():
    [t] = admin.describe_topics([topic])
    return sorted(p['partition'] for p in t['partitions'])


def error_of(call):
    try:
        call()
        return None
    except Exception as e:  # kafka-python raises the error class of the code
        return type(e).__name__


admin.create_topics([NewTopic(topic, 2, 1)])
out['created'] = partitions()
response = admin.create_partitions({topic: NewPartitions(5)})
out['response'] = [[t, code] for t, code, *_ in response.topic_errors]
out['after_grow'] = partitions()
out['validate_only'] = error_of(lambda: admin.create_partitions({topic: NewPartitions(8)}, validate_only=True))
out['after_validate_only'] = partitions()
out['shrink'] = error_of(lambda: admin.create_partitions({topic: NewPartitions(3)}))
out['unknown_topic'] = error_of(lambda: admin.create_partitions({topic + '-missing': NewPartitions(3)}))
[described] = admin.describe_topics([topic])
out['described'] = {'topic': described['topic'], 'error_code': described['error_code'], 'is_internal': described['is_internal'],
                     'leaders': sorted({p['leader'] for p in described['partitions']})}
cluster = admin.describe_cluster()
out['cluster'] = {'brokers': [[b['node_id'], b['host'], b['port']] for b in cluster['brokers']],
                  'controller_id': cluster['controller_id'], 'cluster_id': cluster['cluster_id']}
admin.close()
print(json.dumps(out))
