/** `npm run bench`: every benchmark, printed as markdown. */
import { brokerBench } from './broker.js';
import { protocolBench } from './protocol.js';
import { crc32cBench } from './records/crc32c.js';

const sections: Record<string, () => string[] | Promise<string[]>> = {
  protocol: protocolBench,
  crc32c: crc32cBench,
  broker: brokerBench,
};

const only = process.argv.slice(2);
for (const [name, run] of Object.entries(sections)) {
  if (only.length && !only.includes(name)) continue;
  console.log((await run()).join('\n'));
}
