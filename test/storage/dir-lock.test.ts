/**
 * One storage per data directory (Kafka's `.lock`): a second one is refused while the first is
 * open, and takes over once the first is closed or has crashed.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { diskStorage, logConfig, makeBatch, tempDir, topicRecord } from './helpers.js';

describe('disk engine data directory lock', () => {
  it('refuses a second storage on an open directory, not after close or a crash', async (t) => {
    const dir = await tempDir(t);
    const first = diskStorage(dir);
    await first.open();
    await assert.rejects(diskStorage(dir).open(), /already open in this process/);
    await first.close();
    const second = diskStorage(dir);
    await second.open();
    await second.simulateCrash();
    const third = diskStorage(dir);
    await third.open();
    await third.close();
  });

  it('refuses a directory locked by another live process, and takes over a dead one', async (t) => {
    const dir = await tempDir(t);
    // The parent of this test process is alive (pid 1 at worst); a pid far above pid_max is not.
    await writeFile(join(dir, '.lock'), JSON.stringify({ pid: process.ppid, started: null }) + '\n');
    await assert.rejects(diskStorage(dir).open(), new RegExp(`in use by process ${process.ppid}`));
    await writeFile(join(dir, '.lock'), JSON.stringify({ pid: 99_999_999, started: null }) + '\n');
    const storage = diskStorage(dir);
    await storage.open();
    await storage.close();
  });

  it('takes over from a killed broker that nobody has reaped yet (a zombie)', async (t) => {
    const dir = await tempDir(t);
    // The shell's child exits, and the shell becomes a sleep that never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    t.after(() => parent.kill('SIGKILL'));
    const pid = Number(await new Promise<string>((r) => parent.stdout.once('data', (d: Buffer) => r(d.toString()))));
    for (let i = 0; i < 100 && !/^\d+ \(.*\) Z/.test(await readFile(`/proc/${pid}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(await readFile(`/proc/${pid}/stat`, 'utf8'), /\) Z /, 'the child is a zombie');
    await writeFile(join(dir, '.lock'), JSON.stringify({ pid, started: null }) + '\n');
    const storage = diskStorage(dir);
    await storage.open();
    await storage.close();
  });

  it('holds across PID namespaces (containers sharing a volume), by the owner\'s heartbeat', { timeout: 60_000 }, async (t) => {
    if (spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status !== 0) return t.skip('unshare --pid is not permitted here');
    const dir = await tempDir(t);
    const dirLock = new URL('../../src/storage/disk/dir-lock.js', import.meta.url).href;
    const script = `const { lockDataDir } = await import(${JSON.stringify(dirLock)});
      try { await lockDataDir(process.argv[1]); console.log('locked'); } catch (e) { console.log(e.name + ': ' + e.message); process.exit(0); }
      setInterval(() => {}, 1000);`;
    const inNamespace = () => spawn('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', process.execPath, '--input-type=module', '-e', script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    const firstLine = (p: ReturnType<typeof spawn>) => new Promise<string>((resolve) => {
      let out = '';
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      p.on('exit', () => resolve(out.trim()));
    });
    const holder = inNamespace();
    t.after(() => holder.kill('SIGKILL'));
    assert.equal(await firstLine(holder), 'locked');
    assert.match(JSON.parse(await readFile(join(dir, '.lock'), 'utf8')).pid.toString(), /^1$/, 'pid 1 in its own namespace');
    // Another namespace's broker, as pid 1 too, and this process: both see a live owner.
    const second = inNamespace();
    t.after(() => second.kill('SIGKILL'));
    assert.match(await firstLine(second), /^DataDirInUseError: .* in use by process 1 of another PID namespace/);
    await assert.rejects(diskStorage(dir).open(), /in use by process 1 of another PID namespace/);
    // Killed: its heartbeat stops, and the lock is taken over once that shows.
    holder.kill('SIGKILL');
    await new Promise((r) => holder.on('exit', r));
    const started = Date.now();
    const storage = diskStorage(dir);
    await storage.open();
    assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`);
    await storage.close();
  });

  it('a broker whose lock was taken over (it was frozen past the heartbeat) stops writing', async (t) => {
    const dir = await tempDir(t);
    const storage = diskStorage(dir);
    await storage.open();
    t.after(() => storage.close().catch(() => undefined));
    const log = await storage.openPartition(topicRecord(), 0, logConfig());
    assert.equal((await log.append(makeBatch(), { leaderEpoch: 0 })).baseOffset, 0n);
    // What a broker of another PID namespace does to a lock whose heartbeat stopped.
    await writeFile(join(dir, '.lock.other'), JSON.stringify({ pid: 1, started: null, pidns: 'pid:[1]' }) + '\n');
    await rename(join(dir, '.lock.other'), join(dir, '.lock'));
    await new Promise((r) => setTimeout(r, 2500));
    await assert.rejects(log.append(makeBatch(), { leaderEpoch: 0 }), /another broker took over the data directory/);
    await assert.rejects(storage.openPartition(topicRecord('other', 1, 'AAAAAAAAAAAAAAAAAAAAAg'), 0, logConfig()), /another broker took over the data directory/);
    // Closing leaves the other broker's lock, and marks nothing clean.
    await storage.close();
    assert.equal(JSON.parse(await readFile(join(dir, '.lock'), 'utf8')).pidns, 'pid:[1]');
    await assert.rejects(readFile(join(dir, '.samsa_clean_shutdown')), { code: 'ENOENT' });
  });

  it('lets exactly one of several processes starting together take the lock, fresh or left by a dead owner', { timeout: 120_000 }, async (t) => {
    const dirLock = new URL('../../src/storage/disk/dir-lock.js', import.meta.url).href;
    // Each child waits for the same instant, tries the lock, reports, and keeps what it got until
    // every child has reported (its stdin closes): a lock given up early would be fairly taken.
    const child = `const { lockDataDir } = await import(${JSON.stringify(dirLock)});
      const [dir, at] = process.argv.slice(1);
      while (Date.now() < Number(at)) {}
      try { await lockDataDir(dir); console.log('locked'); } catch (e) { console.log(e.name); }
      process.stdin.resume();
      process.stdin.on('end', () => process.exit(0));`;
    for (let round = 0; round < 16; round++) {
      const dir = await tempDir(t);
      const stale = round % 2 === 0;
      if (stale) await writeFile(join(dir, '.lock'), JSON.stringify({ pid: 99_999_999, started: null }) + '\n');
      const at = String(Date.now() + 400);
      const children = Array.from({ length: 4 }, () => spawn(process.execPath, ['--input-type=module', '-e', child, dir, at], { stdio: ['pipe', 'pipe', 'inherit'] }));
      const outcomes = await Promise.all(children.map((p) => new Promise<string>((resolve) => {
        let out = '';
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        p.on('exit', () => resolve(out.trim()));
      })));
      await Promise.all(children.map((p) => new Promise((r) => { p.on('exit', r); p.stdin.end(); })));
      const what = `round ${round} (${stale ? 'stale lock' : 'no lock'}): ${outcomes.join(', ')}`;
      assert.equal(outcomes.filter((o) => o === 'locked').length, 1, what);
      assert.deepEqual(outcomes.filter((o) => o !== 'locked'), ['DataDirInUseError', 'DataDirInUseError', 'DataDirInUseError'], what);
      assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('.lock')), ['.lock'], `${what}: nothing left but the lock`);
    }
  });
});
