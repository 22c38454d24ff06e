/**
 * A kafkajs group member in its own process, so tests can kill it without a LeaveGroup:
 * `node kafkajs-member.js <bootstrap> <group> <topic> <name>`; prints JSON lines
 * {event:'assigned', partitions} and {event:'message', partition, offset, value}.
 * Does nothing when imported (node --test treats every file under test/ as a candidate).
 */
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';

async function main(bootstrap: string, groupId: string, topic: string, name: string): Promise<void> {
  const { Kafka, logLevel } = kafkajs;
  const consumer = new Kafka({ brokers: [bootstrap], clientId: name, logLevel: logLevel.NOTHING }).consumer({ groupId, sessionTimeout: 3000, heartbeatInterval: 300, maxWaitTimeInMs: 250 });
  const print = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
  consumer.on(consumer.events.GROUP_JOIN, (e) => print({ event: 'assigned', partitions: e.payload.memberAssignment[topic] ?? [] }));
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommitThreshold: 1,
    eachMessage: async ({ partition, message }) => void print({ event: 'message', partition, offset: Number(message.offset), value: message.value!.toString() }),
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [bootstrap, group, topic, name] = process.argv.slice(2);
  main(bootstrap, group, topic, name).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
