// Run the conformance corpus through the JavaScript verifier (Node's test runner):
// `node --test web/test/corpus.mjs`. Writes one JSON line per vector when KP_CORPUS_OUT is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { verifyBundle } from '../src/verify.js';

const root = fileURLToPath(new URL('../../specs/vectors/bundles/', import.meta.url));
const { vectors } = JSON.parse(readFileSync(root + 'vectors.json', 'utf8'));
// The checks this verifier implements (steps 1-4 of specs/proof-bundle.md §4).
const COVERED = new Set(['decode', 'checkpoint', 'origin', 'order', 'genesis', 'inclusion']);

test('the JavaScript verifier agrees with the corpus on steps 1-4', async () => {
  const results = [];
  const started = performance.now();
  for (const v of vectors) {
    const got = await verifyBundle(readFileSync(root + v.bundle), v.vkey);
    results.push({ name: v.name, verdict: got.verdict, failure: got.failure });
    if (v.expect.verdict === 'invalid' && COVERED.has(v.expect.failure)) {
      assert.deepEqual([got.verdict, got.failure], ['invalid', v.expect.failure], v.name);
    } else {
      // A later failure, or none: steps 1-4 must hold.
      assert.equal(got.verdict, 'unchecked', `${v.name}: ${got.failure} ${got.message}`);
    }
  }
  const ms = performance.now() - started;
  if (process.env.KP_CORPUS_OUT) writeFileSync(process.env.KP_CORPUS_OUT, JSON.stringify({ ms, results }));
});
