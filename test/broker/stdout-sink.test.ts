/** The broker's JSON log destination (src/stdout-sink.ts), run in a child process whose stdout is a pipe. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from '../support/processes.js';

const SINK = new URL('../../src/stdout-sink.js', import.meta.url).href;

test('a log line longer than the bound on waiting lines still reaches stdout whole', async () => {
  const script = `
    import { stdoutSink, flushStdoutLog } from ${JSON.stringify(SINK)};
    const sink = stdoutSink();
    sink.write('{"msg":"first"}\\n');
    sink.write(JSON.stringify({ msg: 'x'.repeat(3 << 20) }) + '\\n');
    await flushStdoutLog(5000);
    sink.write('{"msg":"after"}\\n');
    await flushStdoutLog(5000);
  `;
  const r = await run(process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
  assert.deepEqual(lines.map((l) => l.msg.length), [5, 3 << 20, 5]);
  assert.equal(lines[2].msg, 'after');
});
