// Verification of a .kpproof bundle, steps 1-4 of specs/proof-bundle.md §4 (decode, the
// checkpoint's signed note, record order and genesis, every inclusion proof). Steps 5-10
// (the rules replay, the state map, attestation, quarantine, time evidence and the policy)
// are not implemented yet: a bundle that passes steps 1-4 gets the verdict "unchecked".
import {
  Failure, decode, isMap, isInt, isBytes, leafHash, openCheckpoint, parseVkey, parseMapProof,
  verifyInclusion,
} from './core.js';

export const MAX_BUNDLE_SIZE = 16 << 20;

function decodeBundle(data) {
  if (data.length > MAX_BUNDLE_SIZE) throw new Failure('decode', 'bundle too large');
  let m;
  try { m = decode(data, MAX_BUNDLE_SIZE); } catch (e) { throw new Failure('decode', `malformed bundle: ${e.message}`); }
  const bad = (why) => { throw new Failure('decode', `malformed bundle: ${why}`); };
  if (!isMap(m)) bad('not a map');
  if (m.type !== 'kpledger-proof' || typeof m.v !== 'number') bad('not a kpledger proof bundle');
  if (m.v !== 2) bad(`format version ${m.v} is not 2`);
  const required = ['checkpoint', 'item', 'map', 'origin', 'records', 'type', 'v'];
  const keys = Object.keys(m).filter((k) => k !== 'attestation' && k !== 'evidence').sort();
  if (keys.join() !== required.join()) bad('missing or unknown fields');
  if ('attestation' in m && typeof m.attestation !== 'string') bad('attestation must be text');
  for (const k of ['origin', 'item', 'checkpoint']) if (typeof m[k] !== 'string') bad(`${k} must be text`);
  if (!Array.isArray(m.records) || m.records.length < 1 || m.records.length > 100000) bad('records');
  const records = m.records.map((r) => {
    if (!isMap(r) || Object.keys(r).sort().join() !== 'index,proof,record') bad('record fields');
    if (!isInt(r.index) || r.index < 0) bad('record index must be a non-negative integer');
    if (!isBytes(r.record) || !Array.isArray(r.proof)) bad('record must carry bytes and a proof list');
    if (r.proof.length > 64 || !r.proof.every((h) => isBytes(h) && h.length === 32)) bad('proof hashes');
    return { index: Number(r.index), record: r.record, proof: r.proof };
  });
  let evidence = [];
  if ('evidence' in m) {
    if (!Array.isArray(m.evidence) || m.evidence.length < 1 || m.evidence.length > 8) bad('evidence must be a list of 1 to 8');
    evidence = m.evidence.map((e) => {
      if (!isMap(e) || Object.keys(e).sort().join() !== 'checkpoint,proof' || typeof e.checkpoint !== 'string') bad('evidence shape');
      if (!Array.isArray(e.proof) || e.proof.length > 64 || !e.proof.every((h) => isBytes(h) && h.length === 32)) bad('evidence proof');
      return { checkpoint: e.checkpoint, proof: e.proof };
    });
  }
  if (!Array.isArray(m.map) || m.map.length < 1 || m.map.length > 10000) bad('map must be a list of 1 to 10000 proofs');
  let map;
  try { map = m.map.map(parseMapProof); } catch (e) { bad(e.message); }
  return { origin: m.origin, item: m.item, checkpoint: m.checkpoint, records, map, attestation: m.attestation ?? null, evidence };
}

/**
 * Verify a bundle. Returns { verdict: "invalid", failure, message } for a bundle that fails
 * steps 1-4, else { verdict: "unchecked", checkpoint } (steps 5-10 not implemented here).
 */
export async function verifyBundle(data, vkeyText) {
  const verifier = await parseVkey(vkeyText.trim());
  try {
    const bundle = decodeBundle(data);
    let opened;
    try { opened = await openCheckpoint(bundle.checkpoint, verifier); } catch (e) { throw new Failure('checkpoint', e.message); }
    const { cp } = opened;
    if (cp.origin !== bundle.origin) throw new Failure('origin', `checkpoint is for ${cp.origin}, the bundle says ${bundle.origin}`);
    const idx = bundle.records.map((r) => r.index);
    for (let i = 1; i < idx.length; i++) if (idx[i] <= idx[i - 1]) throw new Failure('order', 'bundle records are not in strictly increasing log order');
    if (idx[0] !== 0) throw new Failure('genesis', 'bundle lacks the genesis record (index 0)');
    for (const r of bundle.records) {
      try {
        await verifyInclusion(await leafHash(r.record), r.index, cp.size, r.proof, cp.root);
      } catch (e) {
        throw new Failure('inclusion', `record ${r.index} is not in the checkpointed log: ${e.message}`);
      }
    }
    return { verdict: 'unchecked', failure: null, message: 'steps 1-4 hold; the rules replay is not implemented in this verifier', checkpoint: { origin: cp.origin, size: cp.size }, item: bundle.item, records: bundle.records.length };
  } catch (e) {
    if (e instanceof Failure) return { verdict: 'invalid', failure: e.check, message: e.message };
    throw e;
  }
}
