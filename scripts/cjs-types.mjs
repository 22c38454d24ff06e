/**
 * Declarations for `require('samsa')`: the ES module declarations again, under a package.json
 * that says "commonjs". TypeScript decides a declaration file's module format by its nearest
 * package.json, and a CommonJS file may not re-export an ES module's declarations, so a single
 * .d.cts re-exporting dist/src only type-checked under skipLibCheck.
 */
import { cpSync, rmSync, statSync, writeFileSync } from 'node:fs';

const out = 'dist/cjs';
rmSync(out, { recursive: true, force: true });
for (const dir of ['src', 'protocol']) {
  cpSync(`dist/${dir}`, `${out}/${dir}`, { recursive: true, filter: (path) => statSync(path).isDirectory() || path.endsWith('.d.ts') });
}
writeFileSync(`${out}/package.json`, '{ "type": "commonjs" }\n');
