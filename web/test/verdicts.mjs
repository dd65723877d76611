// Verdicts of the JavaScript verifier for a list of cases (the differential test of
// tests/vectors/test_bundle_corpus_js.py): `node web/test/verdicts.mjs CASES.json OUT.json`,
// CASES being [{bundle: path, vkey, policy, as_of}], OUT [[verdict, failure], ...].
import { readFileSync, writeFileSync } from 'node:fs';
import { verifyBundle } from '../src/verify.js';

const [casesFile, outFile] = process.argv.slice(2);
const out = [];
for (const c of JSON.parse(readFileSync(casesFile, 'utf8'))) {
  const got = await verifyBundle(readFileSync(c.bundle), c.vkey, c.policy, c.as_of);
  out.push([got.verdict, got.failure]);
}
writeFileSync(outFile, JSON.stringify(out));
