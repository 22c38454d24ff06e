/**
 * Codec throughput: a Produce request carrying 1 MB of records and a Fetch response with 100
 * partitions, against the reference of copying the same bytes once (Buffer.copy), in the same run.
 * Also checks that the record bytes were referenced, not copied.
 */
import { randomBytes } from 'node:crypto';
import { decodeRequest, encodeRequest, encodeResponse } from '../protocol/frames.js';
import { ApiKey } from '../protocol/generated/index.js';
import { fmtRate, measure, row } from './harness.js';

export function protocolBench(): string[] {
  const lines: string[] = [];
  const records = randomBytes(1024 * 1024);
  const produceBody = { transactionalId: null, acks: -1, timeoutMs: 30000, topicData: [{ name: 'bench', partitionData: [{ index: 0, records }] }] };
  const out: string[] = [];

  for (const v of [7, 9]) {
    const frame = encodeRequest(ApiKey.Produce, v, 1, 'bench', produceBody).subarray(4);
    const decoded = decodeRequest(frame).body;
    const view: Buffer = decoded.topicData[0].partitionData[0].records;
    const zeroCopy = view.buffer === frame.buffer && view.byteOffset >= frame.byteOffset;
    const dec = measure(`decode Produce v${v}`, () => decodeRequest(frame), { bytesPerOp: frame.length });
    const enc = measure(`encode Produce v${v}`, () => encodeRequest(ApiKey.Produce, v, 1, 'bench', produceBody), { bytesPerOp: frame.length });
    const scratch = Buffer.allocUnsafe(frame.length);
    const ref = measure('copy 1 MB', () => frame.copy(scratch), { bytesPerOp: frame.length });
    out.push(row([`Produce v${v} request, 1 MB records`, `decode ${fmtRate(dec)}`, `${(dec.opsPerSec / ref.opsPerSec).toFixed(1)}× a 1 MB copy`, `encode ${fmtRate(enc)}`, zeroCopy ? 'records are a view into the frame' : '**records were copied**']));
  }

  const partitions = Array.from({ length: 100 }, (_, i) => ({
    partitionIndex: i, errorCode: 0, highWatermark: 1000n, lastStableOffset: 1000n, logStartOffset: 0n,
    abortedTransactions: [], preferredReadReplica: -1, records: randomBytes(16 * 1024),
  }));
  for (const v of [11, 12]) {
    const body = { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [{ topic: 'bench', topicId: 'AAAAAAAAAAAAAAAAAAAAAA', partitions }] };
    const chunks = encodeResponse(ApiKey.Fetch, v, 1, body);
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const referenced = partitions.filter((p) => chunks.includes(p.records)).length;
    const enc = measure(`encode Fetch v${v}`, () => encodeResponse(ApiKey.Fetch, v, 1, body), { bytesPerOp: total });
    const scratch = Buffer.allocUnsafe(total);
    const all = Buffer.concat(chunks);
    const ref = measure('copy', () => all.copy(scratch), { bytesPerOp: total });
    out.push(row([`Fetch v${v} response, 100 partitions × 16 KiB`, `encode ${fmtRate(enc)}`, `${(enc.opsPerSec / ref.opsPerSec).toFixed(1)}× a copy of the response`, `${chunks.length} chunks`, `${referenced}/100 record sets referenced, not copied`]));
  }
  lines.push('### Protocol codecs', '', row(['message', 'rate', 'vs reference', 'other', 'zero copy']), row(['---', '---', '---', '---', '---']), ...out, '');
  return lines;
}
