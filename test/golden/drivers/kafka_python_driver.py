"""kafka-python 2.0.2 capture driver (run by drivers/python.ts with /usr/bin/python3).

Reads a JSON plan on stdin, runs admin create_topics, one KafkaProducer per codec and a group
consumer, and prints a JSON report on stdout: which codecs were produced or skipped (and why) and
what the consumer read back.
"""
import json
import sys
import time


def main():
    plan = json.load(sys.stdin)
    address = plan["address"]
    client_id = plan["clientId"]
    report = {"produced": [], "skipped": [], "consumed": [], "errors": []}

    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=address, client_id=client_id, request_timeout_ms=10000)
    admin.create_topics(
        [NewTopic(name=t["name"], num_partitions=t["numPartitions"], replication_factor=t["replicationFactor"])
         for t in plan["createTopics"]],
        timeout_ms=10000,
    )
    admin.close()

    for p in plan["produce"]:
        codec = p["codec"]
        try:
            producer = KafkaProducer(
                bootstrap_servers=address,
                client_id=client_id,
                compression_type=None if codec == "none" else codec,
                acks="all" if p["acks"] == -1 else p["acks"],
                linger_ms=50,
            )
        except Exception as e:  # kafka-python checks the codec library here
            report["skipped"].append({"codec": codec, "reason": "%s: %s" % (type(e).__name__, e)})
            continue
        futures = []
        for m in p["messages"]:
            futures.append(producer.send(
                p["topic"],
                partition=p["partition"],
                key=None if m["key"] is None else m["key"].encode("utf-8"),
                value=m["value"].encode("utf-8"),
                headers=[(k, v.encode("utf-8")) for k, v in m["headers"]],
                timestamp_ms=int(m["timestamp"]) if "timestamp" in m else None,
            ))
        producer.flush(10)
        for f in futures:
            f.get(timeout=10)
        producer.close(10)
        report["produced"].append(codec)

    g = plan["group"]
    consumer = KafkaConsumer(
        bootstrap_servers=address,
        client_id=client_id,
        group_id=g["groupId"],
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        consumer_timeout_ms=15000,
    )
    consumer.subscribe(g["topics"])
    deadline = time.time() + 20
    for rec in consumer:
        report["consumed"].append({
            "topic": rec.topic,
            "partition": rec.partition,
            "offset": str(rec.offset),
            "key": None if rec.key is None else rec.key.decode("utf-8"),
            "value": None if rec.value is None else rec.value.decode("utf-8"),
            "headers": [[k, v.decode("utf-8")] for k, v in (rec.headers or [])],
        })
        if len(report["consumed"]) >= g["expected"] or time.time() > deadline:
            break
    # Stay in the group past one heartbeat interval so that a Heartbeat is captured too.
    time.sleep(1.5)
    consumer.commit()
    consumer.close()
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
