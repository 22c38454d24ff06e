"""
Config administration from the Python clients, for configs-python.test.ts: describes and alters a
topic and the broker with confluent-kafka's AdminClient or kafka-python's KafkaAdminClient, and
prints what each call returned as one JSON object.

Usage: configs_py.py '{"client": "confluent"|"kafka-python", "bootstrap": "host:port", "topic": "t"}'
"""
import json
import sys


def confluent(plan):
    from confluent_kafka.admin import AdminClient, ConfigResource
    from confluent_kafka import KafkaException
    admin = AdminClient({'bootstrap.servers': plan['bootstrap']})
    topic = plan['topic']
    out = {}

    def describe(restype, name):
        fs = admin.describe_configs([ConfigResource(restype, name)], request_timeout=15)
        entries = list(fs.values())[0].result(timeout=20)
        return {k: {'value': e.value, 'source': int(e.source), 'read_only': e.is_read_only, 'default': e.is_default,
                    'sensitive': e.is_sensitive, 'synonyms': [[s.name, s.value, int(s.source)] for s in e.synonyms.values()]}
                for k, e in entries.items()}

    def alter(restype, name, configs, validate_only=False):
        fs = admin.alter_configs([ConfigResource(restype, name, set_config=configs)], validate_only=validate_only, request_timeout=15)
        try:
            list(fs.values())[0].result(timeout=20)
            return 'NONE'
        except KafkaException as e:
            return e.args[0].name()

    out['before'] = describe('topic', topic)
    out['alter'] = alter('topic', topic, {'retention.ms': '3600000', 'compression.type': 'zstd', 'message.timestamp.type': 'LogAppendTime', 'cleanup.policy': 'delete,compact'})
    out['after'] = describe('topic', topic)
    out['invalid'] = alter('topic', topic, {'segment.bytes': '1'})
    out['validate_only'] = alter('topic', topic, {'retention.ms': '1'}, validate_only=True)
    out['broker_alter'] = alter('broker', '1', {'log.retention.bytes': '123456789'})
    out['broker'] = describe('broker', '1')
    out['broker_static'] = alter('broker', '1', {'num.partitions': '9'})

    # Produce with gzip and read back: the broker stores zstd, stamps LogAppendTime.
    from confluent_kafka import Producer, Consumer
    p = Producer({'bootstrap.servers': plan['bootstrap'], 'compression.type': 'gzip', 'linger.ms': 50})
    for i in range(3):
        p.produce(topic, key='k%d' % i, value='v%d' % i, timestamp=1000000000000)
    p.flush(20)
    c = Consumer({'bootstrap.servers': plan['bootstrap'], 'group.id': 'configs-py', 'auto.offset.reset': 'earliest', 'enable.auto.commit': False})
    c.subscribe([topic])
    got = []
    import time
    deadline = time.time() + 20
    while len(got) < 3 and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        ts_type, ts = m.timestamp()
        got.append({'value': m.value().decode(), 'timestamp_type': ts_type, 'timestamp': ts})
    c.close()
    out['consumed'] = got
    return out


def kafka_python(plan):
    from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType
    admin = KafkaAdminClient(bootstrap_servers=plan['bootstrap'], client_id='configs-py', request_timeout_ms=20000)
    topic = plan['topic']
    out = {}

    def describe(restype, name, synonyms=True):
        responses = admin.describe_configs([ConfigResource(restype, name)], include_synonyms=synonyms)
        result = {}
        for r in responses:
            for (error_code, error_message, resource_type, resource_name, entries) in r.resources:
                if error_code != 0:
                    return {'error': error_code, 'message': error_message}
                for e in entries:
                    # v1+: name, value, read_only, source, sensitive, synonyms
                    result[e[0]] = {'value': e[1], 'read_only': e[2], 'source': e[3], 'sensitive': e[4], 'synonyms': [list(s) for s in e[5]]}
        return result

    def alter(restype, name, configs):
        r = admin.alter_configs([ConfigResource(restype, name, configs=configs)])
        return [[code, message] for (code, message, _t, _n) in r.resources]

    out['describe_version'] = admin._matching_api_version(__import__('kafka.protocol.admin', fromlist=['DescribeConfigsRequest']).DescribeConfigsRequest)
    out['before'] = describe(ConfigResourceType.TOPIC, topic)
    out['alter'] = alter(ConfigResourceType.TOPIC, topic, {'retention.ms': '7200000', 'min.insync.replicas': '2', 'message.timestamp.after.max.ms': '60000'})
    out['after'] = describe(ConfigResourceType.TOPIC, topic)
    out['invalid'] = alter(ConfigResourceType.TOPIC, topic, {'no.such.config': 'x'})
    out['missing'] = describe(ConfigResourceType.TOPIC, 'configs-py-missing')
    out['broker_alter'] = alter(ConfigResourceType.BROKER, '1', {'log.cleaner.delete.retention.ms': '1000'})
    out['broker'] = describe(ConfigResourceType.BROKER, '1')
    admin.close()
    return out


def main():
    plan = json.loads(sys.argv[1])
    out = confluent(plan) if plan['client'] == 'confluent' else kafka_python(plan)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
