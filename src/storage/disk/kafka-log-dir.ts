/**
 * A data directory Apache Kafka writes (a `log.dirs` from Kafka's own server.properties, say) is
 * refused before Samsa touches it. Samsa keeps its topics in a table of its own and does not read
 * Kafka's metadata log, so it would take every partition there for a stray and set it aside;
 * Kafka, back on that directory, would then find its partitions gone. Nor would Samsa's `.lock`
 * keep out a Kafka broker still running there (Kafka's is an flock on an empty file).
 */
import * as fsp from 'node:fs/promises';
import { StorageRefusedError } from '../storage.js';
import { TOPICS_FILE } from './names.js';

/** What a Kafka broker leaves in its log directories and Samsa never writes. */
const KAFKA_ONLY = [
  '__cluster_metadata-0', // the KRaft metadata log
  'replication-offset-checkpoint',
  '.kafka_cleanshutdown',
  'bootstrap.checkpoint', // kafka-storage.sh format
];

export async function refuseKafkaLogDir(dataDir: string): Promise<void> {
  const names = new Set(await fsp.readdir(dataDir));
  if (names.has(TOPICS_FILE)) return; // Samsa's own, whatever else is in it
  const found = KAFKA_ONLY.find((n) => names.has(n));
  if (found === undefined) return;
  throw new StorageRefusedError(
    `${dataDir} is an Apache Kafka log directory (it holds ${found}): Samsa does not read Kafka's metadata log, so it would set every partition there aside, and Kafka would then find them gone. Give Samsa a directory of its own (--data-dir, or log.dirs in the config)`,
  );
}
