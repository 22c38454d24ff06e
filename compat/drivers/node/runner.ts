/**
 * The process side of a Node driver: read one OpRequest from stdin, run the handler for its op,
 * print one OpResult line, exit (clients may leave timers and sockets behind; exiting ends them).
 */
import { pathToFileURL } from 'node:url';
import type { ClientError, Op, OpName, OpRequest, OpResult } from '../../ops.js';

export type Handler<K extends OpName> = (op: Extract<Op, { op: K }>, req: OpRequest) => Promise<Record<string, unknown> | void>;
export type Handlers = { [K in OpName]?: Handler<K> };

/** True when the module at `metaUrl` is the program node was started with. */
export function isMain(metaUrl: string): boolean {
  return process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === metaUrl;
}

export async function serve(handlers: Handlers, toError: (e: unknown) => ClientError): Promise<never> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const req = JSON.parse(input) as OpRequest;
  let result: OpResult;
  try {
    const h = handlers[req.op.op] as Handler<OpName> | undefined;
    if (!h) throw Object.assign(new Error(`op ${req.op.op} not implemented by this driver`), { name: 'NotImplemented' });
    result = { ok: true, ...((await h(req.op as never, req)) ?? {}) };
  } catch (e) {
    result = { ok: false, error: toError(e) };
  }
  await new Promise<void>((r) => process.stdout.write('\n' + JSON.stringify(result) + '\n', () => r()));
  process.exit(0);
}

/** Polls `check` until it is true or `ms` pass (then throws `what`). */
export async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Generic error normaliser: follows wrapped causes to the innermost error that names a Kafka code. */
export function describeError(e: unknown, codeOf: (x: any) => number | undefined = (x) => (typeof x?.code === 'number' ? x.code : undefined)): ClientError {
  const chain: any[] = [];
  let cur: any = e;
  for (let i = 0; cur && i < 8; i++) {
    chain.push(cur);
    cur = cur.originalError ?? cur.cause ?? (Array.isArray(cur.errors) ? cur.errors[0] : undefined);
  }
  const withCode = chain.find((x) => codeOf(x) !== undefined);
  const top = chain[0] ?? {};
  const inner = withCode ?? chain[chain.length - 1] ?? top;
  const name = String(inner?.type ?? inner?.name ?? top?.name ?? 'Error');
  const messages = chain.map((x) => String(x?.message ?? x)).filter((m, i, a) => m && a.indexOf(m) === i);
  return { name, ...(withCode ? { code: codeOf(withCode) } : {}), message: messages.join(' <- ').slice(0, 600) };
}
