/**
 * `npm run gen`: schemas → protocol/definitions → protocol/generated.
 * With --check, writes nothing and exits 1 if either output would change.
 * The upstream schemas are read from ../shared/kafka-protocol/messages (or --schemas DIR);
 * when they are absent, only the generation step runs.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DefinitionFile } from './definitions.js';
import { formatDefinition, generateAll } from './output.js';
import { importSchemas } from './import.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DEFINITIONS_DIR = join(ROOT, 'protocol/definitions');
/** Hand-maintained definitions of Kafka's internal records (__consumer_offsets, __transaction_state). */
export const INTERNAL_DEFINITIONS_DIR = join(ROOT, 'protocol/internal-definitions');
export const GENERATED_DIR = join(ROOT, 'protocol/generated');
export const DEFAULT_SCHEMAS_DIR = join(ROOT, '../shared/kafka-protocol/messages');

function readDir(dir: string, into: Map<string, DefinitionFile>): Map<string, DefinitionFile> {
  if (!existsSync(dir)) return into;
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue;
    if (into.has(name)) throw new Error(`definition ${name} exists twice`);
    into.set(name, JSON.parse(readFileSync(join(dir, name), 'utf8')) as DefinitionFile);
  }
  return into;
}

/** Every definition the generator works from: the imported ones and the internal records. */
export function readDefinitions(imported?: Map<string, DefinitionFile>): Map<string, DefinitionFile> {
  return readDir(INTERNAL_DEFINITIONS_DIR, new Map(imported ?? readDir(DEFINITIONS_DIR, new Map())));
}

/** Compares wanted file contents with a directory; returns the names that differ, are missing or are extra. */
export function diffDir(dir: string, wanted: Map<string, string>, ext: string): string[] {
  const present = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(ext)) : [];
  const changed = [...wanted].filter(([name, text]) => !existsSync(join(dir, name)) || readFileSync(join(dir, name), 'utf8') !== text).map(([n]) => n);
  const extra = present.filter((n) => !wanted.has(n));
  return [...changed, ...extra.map((n) => `${n} (no longer generated)`)];
}

function writeDir(dir: string, wanted: Map<string, string>, ext: string): void {
  mkdirSync(dir, { recursive: true });
  for (const n of readdirSync(dir)) if (n.endsWith(ext) && !wanted.has(n)) rmSync(join(dir, n));
  for (const [name, text] of wanted) writeFileSync(join(dir, name), text);
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const i = argv.indexOf('--schemas');
  const schemas = i >= 0 ? argv[i + 1] : DEFAULT_SCHEMAS_DIR;
  let problems: string[] = [];

  let defs: Map<string, DefinitionFile>;
  if (existsSync(schemas)) {
    defs = importSchemas(schemas);
    const texts = new Map([...defs].map(([n, d]) => [n, formatDefinition(d)]));
    if (check) problems = problems.concat(diffDir(DEFINITIONS_DIR, texts, '.json').map((n) => `protocol/definitions/${n}`));
    else writeDir(DEFINITIONS_DIR, texts, '.json');
    console.log(`imported ${defs.size} definition files from ${schemas}`);
  } else {
    console.log(`upstream schemas not found at ${schemas}: using the committed definitions`);
    defs = readDir(DEFINITIONS_DIR, new Map());
  }

  const code = generateAll(readDefinitions(defs));
  if (check) problems = problems.concat(diffDir(GENERATED_DIR, code, '.ts').map((n) => `protocol/generated/${n}`));
  else writeDir(GENERATED_DIR, code, '.ts');
  console.log(`generated ${code.size} files`);

  if (problems.length) {
    console.error(`stale generated files (run npm run gen):\n  ${problems.join('\n  ')}`);
    return 1;
  }
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
