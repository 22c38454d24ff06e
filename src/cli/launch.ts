#!/usr/bin/env node
/**
 * The `samsa` command's entry point (bundled as dist/samsa.mjs). It runs the command's bundle,
 * dist/samsa-cli.cjs, through a V8 code cache kept next to it: compiling the megabyte of
 * JavaScript, and then every function start-up calls, is about a third of Samsa's own start-up
 * time, and Node 20 has no compile cache of its own. The first start without a usable cache
 * (none yet for this V8 version, other V8 flags) writes one once the broker is up; a cache
 * that cannot be written (a read-only install) only costs that time.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { Module, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

const bundle = join(dirname(fileURLToPath(import.meta.url)), 'samsa-cli.cjs');
/** One cache per V8 version: alternating Node versions on one install would otherwise rewrite it at every start. */
const cacheFile = `${bundle}.v8-${process.versions.v8}.cache`;
/** Long enough for the broker to be listening, so the functions start-up compiled are in the cache. */
const WRITE_CACHE_AFTER_MS = 1000;

/**
 * V8 checks a cache against its own version, its flags and the source's length only, and reads
 * its contents on trust (damaged contents crash the process). So the cache begins with a line
 * naming the bundle it was made from (a rebuilt bundle of the same length must not run functions
 * compiled from the old one) and a digest of the rest.
 */
function stamp(): string {
  const s = statSync(bundle, { bigint: true });
  return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

const digest = (data: Buffer) => createHash('sha1').update(data).digest('hex');

function readCache(madeFrom: string): Buffer | undefined {
  try {
    const data = readFileSync(cacheFile);
    const eol = data.indexOf(10);
    const [from, sum] = data.subarray(0, eol).toString('latin1').split(' ');
    const body = data.subarray(eol + 1);
    return eol > 0 && from === madeFrom && sum === digest(body) ? body : undefined;
  } catch {
    return undefined;
  }
}

function writeCache(madeFrom: string, body: Buffer): void {
  const scratch = `${cacheFile}.${process.pid}`;
  try {
    const fd = openSync(scratch, 'w');
    try {
      writeSync(fd, `${madeFrom} ${digest(body)}\n`);
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(scratch, cacheFile);
  } catch {
    rmSync(scratch, { force: true });
  }
}

const bundleStamp = stamp();
const cachedData = readCache(bundleStamp);
const script = new Script(Module.wrap(readFileSync(bundle, 'utf8')), { filename: bundle, ...(cachedData ? { cachedData } : {}) });
if (!cachedData || script.cachedDataRejected) {
  setTimeout(() => writeCache(bundleStamp, script.createCachedData()), WRITE_CACHE_AFTER_MS).unref();
}
const cliModule = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(cliModule.exports, createRequire(bundle), cliModule, bundle, dirname(bundle));
