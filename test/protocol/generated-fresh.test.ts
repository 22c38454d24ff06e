/** `npm run gen` must be a no-op on a committed tree: definitions and generated code are up to date. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_SCHEMAS_DIR, DEFINITIONS_DIR, GENERATED_DIR, diffDir, readDefinitions } from '../../protocol/codegen/main.js';
import { importSchemas } from '../../protocol/codegen/import.js';
import { formatDefinition, generateAll } from '../../protocol/codegen/output.js';

test('protocol/generated is what the generator makes of protocol/definitions', () => {
  const stale = diffDir(GENERATED_DIR, generateAll(readDefinitions()), '.ts');
  assert.deepEqual(stale, [], 'run npm run gen');
});

test('protocol/definitions is what the importer makes of the upstream schemas', (t) => {
  if (!existsSync(DEFAULT_SCHEMAS_DIR)) {
    t.skip(`upstream schemas are not checked out beside the project (${DEFAULT_SCHEMAS_DIR})`);
    return;
  }
  const defs = importSchemas(DEFAULT_SCHEMAS_DIR);
  const texts = new Map([...defs].map(([n, d]) => [n, formatDefinition(d)]));
  assert.deepEqual(diffDir(DEFINITIONS_DIR, texts, '.json'), [], 'run npm run gen');
});
