// Run the conformance corpus through the JavaScript verifier (Node's test runner):
// `node --test web/test/corpus.mjs`. Writes one JSON line per vector when KP_CORPUS_OUT is set.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { verifyBundle } from '../src/verify.js';

const root = fileURLToPath(new URL('../../specs/vectors/bundles/', import.meta.url));
const { vectors } = JSON.parse(readFileSync(root + 'vectors.json', 'utf8'));
// Vectors this verifier may answer "unchecked" for (what it does not implement yet): none.
// Every other vector must get exactly the corpus's verdict and first failure.
export const UNCHECKED = new Set();
// How many vectors the verifier agrees on exactly (verdict and first failure): all of them.
export const AGREED = 481;

test('the JavaScript verifier agrees with the corpus on every vector it checks', async () => {
  const results = [];
  const started = performance.now();
  let agreed = 0;
  for (const v of vectors) {
    const got = await verifyBundle(readFileSync(root + v.bundle), v.vkey, v.policy, v.as_of);
    results.push({ name: v.name, verdict: got.verdict, failure: got.failure });
    if (got.verdict === 'unchecked') {
      assert.ok(UNCHECKED.has(v.name), `${v.name}: unchecked (${got.message})`);
      continue;
    }
    assert.deepEqual([got.verdict, got.failure], [v.expect.verdict, v.expect.failure], `${v.name}: ${got.message}`);
    agreed++;
  }
  const ms = performance.now() - started;
  console.log(`${agreed} of ${vectors.length} vectors agreed exactly, ${vectors.length - agreed} unchecked, ${Math.round(ms)} ms`);
  assert.equal(agreed, AGREED);
  if (process.env.KP_CORPUS_OUT) writeFileSync(process.env.KP_CORPUS_OUT, JSON.stringify({ ms, agreed, results }));
});
