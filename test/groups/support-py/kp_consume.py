# A kafka-python group consumer run by a test; prints one JSON object on stdout.
#
# argv[1]: JSON {"bootstrap", "group", "topic", "count": N or null (null: to the end of every partition),
#                "commit": true/false}
# Output: {"assignment": [p...], "committed_before": {p: offset or null}, "messages": [[p, offset, value]...],
#          "positions": {p: offset}, "committed_after": {p: offset or null}, "end_offsets": {p: offset}}
import json
import sys
import time

from kafka import KafkaConsumer, TopicPartition

a = json.loads(sys.argv[1])
topic = a['topic']
c = KafkaConsumer(
    bootstrap_servers=a['bootstrap'],
    group_id=a['group'],
    client_id='kafka-python-' + a['group'],
    enable_auto_commit=False,
    auto_offset_reset='earliest',
    session_timeout_ms=6000,
    heartbeat_interval_ms=200,
    fetch_max_wait_ms=50,
    request_timeout_ms=10000,
)
c.subscribe([topic])
partitions = sorted(c.partitions_for_topic(topic) or [])
tps = [TopicPartition(topic, p) for p in partitions]
out = {'partitions': partitions, 'committed_before': {p: c.committed(TopicPartition(topic, p)) for p in partitions}}

deadline = time.time() + 30
messages = []
count = a['count']
end = c.end_offsets(tps)
while time.time() < deadline:
    want = None if count is None else count - len(messages)
    if want == 0:
        break
    batch = c.poll(timeout_ms=100, max_records=want if want else 500)
    for tp, records in batch.items():
        for r in records:
            messages.append([r.partition, r.offset, r.value.decode()])
    assignment = c.assignment()
    if count is None and assignment and all(c.position(tp) >= end[tp] for tp in assignment):
        break
else:
    raise SystemExit('timed out consuming: ' + json.dumps(messages))

out['assignment'] = sorted(tp.partition for tp in c.assignment())
out['messages'] = messages
out['positions'] = {tp.partition: c.position(tp) for tp in c.assignment()}
if a['commit']:
    c.commit()
out['committed_after'] = {p: c.committed(TopicPartition(topic, p)) for p in partitions}
out['end_offsets'] = {tp.partition: o for tp, o in c.end_offsets(tps).items()}
c.close()
print(json.dumps(out))
