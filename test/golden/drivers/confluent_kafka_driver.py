"""confluent-kafka-python 1.7.0 capture driver (run by drivers/python.ts with /usr/bin/python3).

Reads a JSON plan on stdin: AdminClient create_topics, then one Producer per codec. Prints a JSON
report: codecs produced or skipped (and why) and delivery errors.
"""
import json
import sys


def main():
    plan = json.load(sys.stdin)
    address = plan["address"]
    report = {"produced": [], "skipped": [], "errors": []}
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    base = {
        "bootstrap.servers": address,
        "client.id": plan["clientId"],
        "client.software.name": plan["software"]["name"],
        "client.software.version": plan["software"]["version"],
    }
    admin = AdminClient(dict(base))
    futures = admin.create_topics(
        [NewTopic(t["name"], num_partitions=t["numPartitions"], replication_factor=t["replicationFactor"])
         for t in plan["createTopics"]],
        operation_timeout=10,
    )
    for name, f in futures.items():
        f.result(timeout=15)

    for p in plan["produce"]:
        codec = p["codec"]
        try:
            producer = Producer(dict(base, **{"compression.type": codec, "linger.ms": 50, "acks": str(p["acks"])}))
        except KafkaException as e:
            report["skipped"].append({"codec": codec, "reason": str(e)})
            continue
        errors = []
        # Learn the partition first, so that the messages leave in one batch, not one request each.
        producer.list_topics(p["topic"], timeout=10)

        def on_delivery(err, msg):
            if err is not None:
                errors.append(str(err))

        for m in p["messages"]:
            kwargs = {
                "partition": p["partition"],
                "key": None if m["key"] is None else m["key"].encode("utf-8"),
                "value": m["value"].encode("utf-8"),
                "headers": [(k, v.encode("utf-8")) for k, v in m["headers"]],
                "on_delivery": on_delivery,
            }
            if "timestamp" in m:
                kwargs["timestamp"] = int(m["timestamp"])
            producer.produce(p["topic"], **kwargs)
        left = producer.flush(15)
        if left or errors:
            report["errors"].append({"codec": codec, "undelivered": left, "errors": errors})
        else:
            report["produced"].append(codec)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
