/**
 * Go drivers (sarama, segmentio/kafka-go): small programs compiled once with Debian's Go against
 * Debian's packaged library sources, in GOPATH mode (GO111MODULE=off, GOPATH=/usr/share/gocode), so
 * nothing is downloaded. Binaries are cached by a hash of the source and the Go version.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '../clients.js';
import type { OpRequest } from '../ops.js';
import { SRC, run, runDriver } from '../proc.js';

export const CACHE = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'samsa-compat');

const builds = new Map<string, Promise<string>>();

async function build(name: string): Promise<string> {
  const src = join(SRC, 'drivers/go', name, 'main.go');
  const goVersion = await run('go', ['version'], { timeoutMs: 20000 });
  if (goVersion.code !== 0) throw new Error(`go is not installed (Debian golang-go): ${goVersion.stderr.trim()}`);
  const hash = createHash('sha256').update(readFileSync(src)).update(goVersion.stdout).digest('hex').slice(0, 16);
  const bin = join(CACHE, 'bin', `${name}-${hash}`);
  if (existsSync(bin)) return bin;
  mkdirSync(join(CACHE, 'bin'), { recursive: true });
  const env = { GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(CACHE, 'gocache'), GOFLAGS: '', GOPROXY: 'off', CGO_ENABLED: '1' };
  const r = await run('go', ['build', '-o', bin, src], { timeoutMs: 600_000, env });
  if (r.code !== 0) throw new Error(`go build ${name} failed: ${r.stderr.trim().split('\n').slice(-8).join(' | ')}`);
  return bin;
}

export function goDriver(name: string, debPackage: string): Pick<Client, 'run' | 'version' | 'prepare'> {
  const binary = () => {
    if (!builds.has(name)) builds.set(name, build(name));
    return builds.get(name)!;
  };
  const self = {
    async prepare() {
      await binary();
    },
    async run(req: OpRequest, timeoutMs: number) {
      return runDriver(await binary(), [], req, timeoutMs);
    },
    async version() {
      const r = await self.run({ bootstrap: '', clientId: 'compat-version', op: { op: 'version' } }, 30000);
      if (!r.ok) throw new Error(r.error.message);
      const deb = await run('dpkg-query', ['-W', '-f', '${Version}', debPackage], { timeoutMs: 10000 });
      return `${deb.stdout.trim() || '?'} (${r.version})`;
    },
  };
  return self;
}
