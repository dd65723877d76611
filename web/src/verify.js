// Verification of a .kpproof bundle, every step of specs/proof-bundle.md §4: decode, the
// checkpoint's signed note, record order and genesis, every inclusion proof, the rules
// replay (web/src/rules.js), the ledger, item and ancestry DAG, the state-map proofs, the
// attestation, quarantine, time evidence and the buyer's policy (web/src/policy.js). The
// verdicts and check names are those of §4.1. A bundle holding a value this verifier
// cannot judge exactly (an integer beyond 2^53) gets the verdict "unchecked".
import {
  Failure, decode, isMap, isInt, isBytes, leafHash, openCheckpoint, parseVkey, parseMapProof,
  verifyInclusion, verifyNote, verifyConsistency, verifyCosignatures, mapRootFromProof,
  hex, eq, sha256, concat, encode,
} from './core.js';
import { Unsupported, replayRecords, entryParents, dateOf, byStr } from './rules.js';
import {
  PolicyParseError, namedPolicy, parsePolicy, quorumMet, narrate, quarantine, judge, grandfathered,
} from './policy.js';

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
  const keys = Object.keys(m).filter((k) => !['attestation', 'evidence', 'disclose'].includes(k)).sort();
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
  let disclose = [];
  if ('disclose' in m) {
    if (!Array.isArray(m.disclose) || m.disclose.length < 1 || m.disclose.length > MAX_DISCLOSURES) {
      bad(`bundle disclose must be a list of 1 to ${MAX_DISCLOSURES} openings`);
    }
    disclose = m.disclose.map((o, i) => parseOpening(o, `disclose[${i}]`, bad));
  }
  let map;
  try { map = m.map.map(parseMapProof); } catch (e) { bad(e.message); }
  return { origin: m.origin, item: m.item, checkpoint: m.checkpoint, records, map, attestation: m.attestation ?? null, evidence, disclose };
}

// Committed money fields and their openings (specs/disclosure.md, specs/proof-bundle.md §2.4).
const MAX_DISCLOSURES = 10000;
const COMMITTED_FIELDS = { 'certificate.issue': ['value'], transfer: ['price'], sell: ['price'] };
const COMMITTED_LABELS = Object.entries(COMMITTED_FIELDS).flatMap(([t, names]) => names.map((f) => `${t}.${f}`));
const COMMIT_CONTEXT = new TextEncoder().encode('kpledger/v1 commitment\0');
const RE_OPENING_CURRENCY = /^[A-Z]{3}$/;

function parseOpening(o, path, bad) {
  if (!isMap(o) || Object.keys(o).sort().join() !== 'field,salt,value') bad(`field ${path}: expected exactly field, salt, value`);
  if (!COMMITTED_LABELS.includes(o.field)) bad(`field ${path}.field: expected one of ${COMMITTED_LABELS.join(', ')}`);
  if (!isBytes(o.salt) || o.salt.length !== 32) bad(`field ${path}.salt: expected 32 bytes`);
  const v = o.value;
  if (!isMap(v) || Object.keys(v).sort().join() !== 'amount,currency') bad(`field ${path}.value: expected amount and currency`);
  if (!isInt(v.amount) || v.amount < 0) bad(`field ${path}.value.amount: expected an unsigned integer`);
  if (typeof v.currency !== 'string' || !RE_OPENING_CURRENCY.test(v.currency)) bad(`field ${path}.value.currency: expected an ISO 4217 code`);
  return { field: o.field, salt: o.salt, value: { amount: v.amount, currency: v.currency } };
}

/** Each opening must open a commitment of the bundle's entries in the field it names; no
 * salt twice, no commitment opened twice (specs/disclosure.md §3). */
async function checkOpenings(openings, entries) {
  const present = new Map();
  for (const { entry } of entries.values()) {
    for (const name of COMMITTED_FIELDS[entry.type] ?? []) {
      const money = entry.fields[name];
      if (!isMap(money) || !('commitment' in money)) continue;
      const key = hex(money.commitment);
      if (!present.has(key)) present.set(key, new Set());
      present.get(key).add(`${entry.type}.${name}|${money.currency}`);
    }
  }
  const salts = new Set();
  const opened = new Set();
  for (const [n, o] of openings.entries()) {
    const where = `opening ${n} (${o.field})`;
    const salt = hex(o.salt);
    if (salts.has(salt)) throw new Failure('disclose', `${where}: salt used twice`);
    salts.add(salt);
    const c = hex(await sha256(concat(COMMIT_CONTEXT, encode({ field: o.field, salt: o.salt, value: o.value }))));
    if (!(present.get(c) ?? new Set()).has(`${o.field}|${o.value.currency}`)) {
      throw new Failure('disclose', `${where}: opens no commitment of this field here`);
    }
    if (opened.has(c)) throw new Failure('disclose', `${where}: the same commitment is opened twice`);
    opened.add(c);
  }
}

const PARAM_NAMES = ['cert-validity-days', 'confirm-days', 'mass-tolerance-points', 'mass-tolerance-ppm'];
const ATTESTATION_HEADER = 'kpledger/v1 item-state';

/** Every entry id (hex) reachable from the item's state through consumed heads. */
function ancestry(head, entries) {
  const seen = new Set();
  const todo = [hex(head)];
  while (todo.length) {
    const id = todo.pop();
    if (seen.has(id)) continue;
    const e = entries.get(id);
    if (!e) throw new Failure('dag', `entry ${id.slice(0, 16)} of the ancestry is missing from the bundle`);
    seen.add(id);
    for (const p of entryParents(e.entry)) todo.push(hex(p));
  }
  return seen;
}

const byKindKey = (a, b) => byStr(a[0], b[0]) || byStr(a[1], b[1]);

/** The state keys a bundle proves (specs/proof-bundle.md §2.3), in order. */
function mapKeys(state, item) {
  const keys = new Map([[`parcel\0${item}`, ['parcel', item]]]);
  const add = (k, n) => keys.set(`${k}\0${n}`, [k, n]);
  for (const [name, party] of state.items('party')) { add('party', name); add('kp', party.country); }
  for (const [kid] of state.items('kid')) add('kid', kid);
  for (const name of PARAM_NAMES) add('param', name);
  return [...keys.values()].sort(byKindKey);
}

/** Step 7: the state-map proofs against the checkpoint's map root and the replay (R-SM-1). */
async function checkLatestState(bundle, cp, state, leaves) {
  const wanted = mapKeys(state, bundle.item);
  const have = bundle.map.map((p) => [p.kind, p.key]);
  if (have.length !== wanted.length || have.some((k, i) => byKindKey(k, wanted[i]) !== 0)) {
    throw new Failure('R-SM-1', 'state map: the bundle must prove exactly the keys its records use, in order');
  }
  let latest = -1;
  for (const p of bundle.map) {
    const name = `${p.kind}/${p.key}`;
    let got;
    try { got = await mapRootFromProof(p); } catch (e) { throw new Failure('R-SM-1', `state map: ${e.message}`); }
    if (!eq(got, cp.mapRoot)) throw new Failure('R-SM-1', `state map: the proof for ${name} does not match the committed map root`);
    const leaf = leaves.get(`${p.kind}\0${p.key}`);
    if (!p.present) {
      if (leaf) throw new Failure('R-SM-1', `state map: ${name} is absent from the map, yet record ${leaf.index} sets it`);
      continue;
    }
    if (!leaf || !eq(leaf.vh, p.value) || leaf.index !== p.index) {
      throw new Failure('R-SM-1', `state map: as of checkpoint ${cp.size} the latest state of ${name} is the one record ${p.index} made; the bundle's records give ${leaf ? `the state of record ${leaf.index}` : 'no such state'}`);
    }
    if (p.kind === 'parcel' && p.key === bundle.item) latest = p.index;
  }
  return latest;
}

async function checkAttestation(text, verifier, cp, item, head) {
  let note;
  try { note = await verifyNote(text, verifier); } catch (e) { throw new Failure('attestation', e.message); }
  const lines = note.text.split('\n');
  if (lines.length !== 6 || lines[0] !== ATTESTATION_HEADER || lines[5] !== '') throw new Failure('attestation', 'the attestation is not a kpledger item-state attestation');
  const [origin, size, aItem, aHead] = lines.slice(1, 5);
  if (!/^[0-9]+$/.test(size) || (size !== '0' && size.startsWith('0'))) throw new Failure('attestation', 'the attestation\'s tree size is not a canonical decimal');
  if (origin !== cp.origin || BigInt(size) !== BigInt(cp.size) || aItem !== item) throw new Failure('attestation', `the attestation is for ${aItem} at size ${size} of ${origin}`);
  if (aHead !== hex(head)) throw new Failure('attestation', `the bundle omits later events of ${item}: the operator attests another latest state`);
}

/** Step 9: each evidence checkpoint is the operator's, earlier and consistent (§2.2). */
async function timeEvidence(bundle, cp, verifier, witnesses) {
  const out = [];
  for (const ev of bundle.evidence) {
    try {
      const { cp: old, note } = await openCheckpoint(ev.checkpoint, verifier);
      if (old.origin !== cp.origin || old.size > cp.size) throw new Error(`a checkpoint of size ${old.size} is not an earlier state of this log`);
      // With the edge cases of specs/merkle.md §3.3 (equal sizes, size 0).
      await verifyConsistency(old.size, cp.size, old.root, cp.root, ev.proof);
      const stamps = witnesses.length ? await verifyCosignatures(note, witnesses) : new Map();
      for (const name of [...stamps.keys()].sort(byStr)) out.push({ size: old.size, witness: name, timestamp: stamps.get(name) });
    } catch (e) {
      throw new Failure('evidence', `time evidence: ${e.message}`);
    }
  }
  return out;
}

async function loadPolicy(policy) {
  if (policy === null || policy === undefined) return null;
  if (typeof policy !== 'string') return policy;
  return policy === 'eu-russia' || policy === 'us-russia' ? namedPolicy(policy) : parsePolicy(policy);
}

/**
 * Verify a bundle against the trusted vkey, a policy (null, the text of a policy file, or
 * a rule pack's name) and the judgement date (YYYY-MM-DD, default: the append date of the
 * bundle's last record). Returns { verdict, failure, message } with the verdicts of
 * specs/proof-bundle.md §4.1: "valid", "invalid" naming the rule or check of the first
 * failure, "rejected" naming the rule of the first quarantine or policy failure; or
 * "unchecked" for a bundle this verifier cannot judge exactly.
 */
export async function verifyBundle(data, vkeyText, policyText = null, asOf = null) {
  const verifier = await parseVkey(vkeyText.trim());
  try {
    const policy = await loadPolicy(policyText);
    const bundle = decodeBundle(data);
    let opened;
    try { opened = await openCheckpoint(bundle.checkpoint, verifier); } catch (e) { throw new Failure('checkpoint', e.message); }
    const { cp, note } = opened;
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
    // Step 5: the rules replay (a Failure names the rule the record breaks).
    const { state, entries, leaves } = await replayRecords(bundle.records);
    // Step 6.
    const meta = state.meta();
    if (meta === null || meta.origin !== bundle.origin) throw new Failure('ledger', 'the genesis record does not name this ledger\'s origin');
    const item = state.parcel(bundle.item);
    if (item === null) throw new Failure('item', `the bundle does not contain item ${bundle.item}`);
    const dag = ancestry(item.head, entries);
    // Step 7.
    const latest = await checkLatestState(bundle, cp, state, leaves);
    if (bundle.attestation !== null) await checkAttestation(bundle.attestation, verifier, cp, bundle.item, item.head);
    await checkOpenings(bundle.disclose, entries);
    // Step 8: what the journey shows, and quarantine.
    const shown = [];
    const certificates = [];
    const ordered = [...entries.entries()].sort((a, b) => a[1].record.index - b[1].record.index);
    for (const [id, e] of ordered) {
      if (e.entry.type === 'certificate.issue') {
        const cert = state.cert(e.entry.fields.number);
        if (cert === null || cert.used === null || !dag.has(hex(cert.used))) continue;
        certificates.push({ number: cert.number, confirmed: 'confirmed' in cert });
      } else if (!dag.has(id)) continue;
      shown.push(e);
    }
    const journey = narrate(shown, state);
    const failures = quarantine(shown, state).map((v) => ['R-ID-2', `quarantined: record ${v.index} (${v.type}) was signed with the key of ${v.signer}, compromised`]);
    const judgedOn = asOf ?? dateOf(Math.max(...[...entries.values()].map((e) => e.record.time)));
    // Step 9.
    const witnesses = policy ? policy.witnesses.map((w) => w.verifier) : [];
    const evidence = await timeEvidence(bundle, cp, verifier, witnesses);
    let cosigners = new Map();
    if (witnesses.length) {
      try { cosigners = await verifyCosignatures(note, witnesses); } catch (e) { throw new Failure('cosignature', e.message); }
    }
    // Step 10: the policy.
    if (policy) {
      if (!quorumMet(policy, new Set(cosigners.keys()))) failures.push(['R-CH-2', `witness quorum ${policy.quorum} is not met`]);
      const facts = { kind: item.kind, carats: item.carats, hs: 'hs' in item ? item.hs : null, may: item.may, path: item.path ?? {}, journey };
      const judged = judge(facts, { asOf: judgedOn, packs: policy.packs, denyCustody: policy.denyCustody, denyListed: policy.denyListed, state });
      failures.push(...judged.failures);
      if (judged.russian.length) {
        const before = policy.grandfatherBefore;
        if (!(before && grandfathered(journey, evidence, policy, before))) failures.push(...judged.russian);
      }
      if (policy.requireWarranty) {
        const bare = journey.filter((s) => s.type === 'transfer' && s.warranty === null).map((s) => s.index);
        if (bare.length) failures.push(['R-SW-1', `${bare.length} B2B transfer(s) of the ancestry carry no System of Warranties statement`]);
      }
      if (policy.requireNatural && item.grown) failures.push(['R-SW-3', `${bundle.item} is laboratory-grown, not natural`]);
      if (policy.requireImportConfirmed) {
        const open = certificates.filter((c) => !c.confirmed).map((c) => c.number);
        if (open.length) failures.push(['R-KP-3', `the importing authority has not confirmed receipt under KP certificate ${open.join(', ')}`]);
      }
      const hit = [...policy.denyOrigins].filter((c) => item.may.includes(c)).sort();
      if (hit.length) failures.push(['R-SA-1', `may contain diamonds from denied origin ${hit.join(', ')}`]);
    }
    const checkpoint = { origin: cp.origin, size: cp.size };
    // What the buyer reads beside the verdict: the journey, composition, custody path.
    const details = {
      kind: item.kind, carats: item.carats, status: item.status, holder: item.holder,
      composition: item.comp, may: item.may, grown: Boolean(item.grown), path: item.path ?? {},
      certificates: certificates.map((c) => c.number),
      steps: journey.map((st) => ({ index: st.index, date: dateOf(st.appended), actor: st.actor, country: st.country, type: st.type, counterparty: st.counterparty })),
    };
    const base = { checkpoint, item: bundle.item, records: bundle.records.length, latest, asOf: judgedOn, journey: journey.length, details };
    if (failures.length) return { ...base, verdict: 'rejected', failure: failures[0][0], message: failures.map((f) => f[1]).join('; ') };
    return { ...base, verdict: 'valid', failure: null, message: `latest state as of checkpoint ${cp.size}` };
  } catch (e) {
    if (e instanceof Failure) return { verdict: 'invalid', failure: e.check, message: e.message };
    if (e instanceof Unsupported || e instanceof PolicyParseError) return { verdict: 'unchecked', failure: null, message: e.message };
    throw e;
  }
}
