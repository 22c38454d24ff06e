/**
 * Writes dist/samsa-esm.mjs, what `import 'samsa'` loads: the CommonJS bundle (dist/samsa.cjs)
 * through require, its exports named again. A program that both imports and requires samsa (an
 * ES module test helper and a CommonJS one, say) then shares one copy of it, and an import loads
 * one bundled file instead of the ~200 modules of dist/src (about 85 ms instead of ~190 here).
 * Loading the bundle through `import` directly would have Node scan its megabyte of source for
 * export names at every start, which costs about as much as it saves.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const names = Object.keys(createRequire(import.meta.url)('../dist/samsa.cjs')).sort();
if (!names.includes('startBroker')) throw new Error(`dist/samsa.cjs exports ${names.join(', ')}: no startBroker`);
writeFileSync(
  'dist/samsa-esm.mjs',
  [
    "// import 'samsa': the CommonJS bundle, so that import and require share one copy (scripts/esm-entry.mjs).",
    "import { createRequire } from 'node:module';",
    "const samsa = createRequire(import.meta.url)('./samsa.cjs');",
    `export const { ${names.join(', ')} } = samsa;`,
    '',
  ].join('\n'),
);
