/**
 * `meta.properties`, Kafka's identity file of a log directory (KRaft, version 1):
 * `version=1`, `cluster.id=<uuid>`, `node.id=<n>`, `directory.id=<uuid>`, in Java properties syntax.
 */
import { join } from 'node:path';
import { randomUuid } from '../../../protocol/primitives/uuid.js';
import { StorageRefusedError } from '../storage.js';
import { atomicWrite, readFileOrNull } from './fs-util.js';
import { META_PROPERTIES_FILE } from './names.js';

export interface MetaProperties {
  version: number;
  clusterId: string;
  nodeId: number;
  directoryId?: string;
}

/** The subset of java.util.Properties syntax Kafka writes: `key=value` lines, `#`/`!` comments. */
export function parseProperties(text: string): Map<string, string> {
  const props = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m) props.set(m[1]!, m[2]!);
  }
  return props;
}

export function formatMetaProperties(meta: MetaProperties): string {
  const lines = ['#', `#${new Date().toUTCString()}`, `cluster.id=${meta.clusterId}`];
  if (meta.directoryId !== undefined) lines.push(`directory.id=${meta.directoryId}`);
  lines.push(`node.id=${meta.nodeId}`, `version=${meta.version}`);
  return lines.join('\n') + '\n';
}

export function parseMetaProperties(text: string): MetaProperties {
  const p = parseProperties(text);
  const version = Number(p.get('version'));
  const clusterId = p.get('cluster.id');
  const nodeId = Number(p.get('node.id'));
  if (version !== 1) throw new StorageRefusedError(`meta.properties: unsupported version ${p.get('version') ?? '(none)'}`);
  if (!clusterId) throw new StorageRefusedError('meta.properties: no cluster.id');
  if (!Number.isInteger(nodeId)) throw new StorageRefusedError(`meta.properties: bad node.id ${p.get('node.id') ?? '(none)'}`);
  const meta: MetaProperties = { version, clusterId, nodeId };
  const directoryId = p.get('directory.id');
  if (directoryId !== undefined) meta.directoryId = directoryId;
  return meta;
}

/** Reads `meta.properties`, creating it on first start; refuses a directory of another node. */
export async function loadOrCreateMetaProperties(dataDir: string, nodeId: number): Promise<MetaProperties> {
  const path = join(dataDir, META_PROPERTIES_FILE);
  const text = await readFileOrNull(path);
  if (text !== null) {
    let meta: MetaProperties;
    try {
      meta = parseMetaProperties(text.toString('utf8'));
    } catch (e) {
      // Which directory is at fault, as Kafka names the file it cannot read.
      if (e instanceof StorageRefusedError) throw new StorageRefusedError(`${path} is damaged (${e.message.replace(/^meta\.properties: /, '')}): restore it, or write it anew with the cluster.id and node.id the directory had`);
      throw e;
    }
    if (meta.nodeId !== nodeId) {
      throw new StorageRefusedError(`${path} belongs to node ${meta.nodeId}, this broker is node ${nodeId}`);
    }
    return meta;
  }
  const meta: MetaProperties = { version: 1, clusterId: randomUuid(), nodeId, directoryId: randomUuid() };
  await atomicWrite(path, formatMetaProperties(meta));
  return meta;
}
