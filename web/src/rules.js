// The rules replay of a bundle (specs/proof-bundle.md §4 step 5): log records and signed
// entries (specs/log.md, specs/entries.md), the rules engine (specs/rules.md) and the
// per-record state-map leaves (specs/state-map.md §3). Written from the specs, checked
// against the Python verifier on the conformance corpus (specs/vectors/bundles/).
//
// A record the replay refuses throws a Failure whose check is the rule ID it breaks. A
// value this verifier cannot judge exactly (an integer beyond 2^53, which JavaScript
// numbers do not hold) throws Unsupported: the bundle's verdict is then "unchecked".
import {
  Failure, decode, isMap, isBytes, hex, eq, utf8, concat, sha256, checkPublicKey,
  ed25519Verify, valueHash, EncodingError,
} from './core.js';

export class Unsupported extends Error {}

const ruleFail = (rule, message) => new Failure(rule, message);
const encFail = (message) => new Failure('R-EN-1', message);

// ---------------------------------------------------------------- calendar (UTC)

export const DAY_MS = 86400000;
export function dateOf(ms) {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new Unsupported('time out of range');
  const s = d.toISOString();
  if (s.length !== 24) throw new Unsupported('date out of range');
  return s.slice(0, 10);
}
const dayNumber = (date) => {
  const t = Date.parse(`${date}T00:00:00Z`);
  if (Number.isNaN(t)) throw new Unsupported(`bad date ${date}`);
  return t / DAY_MS;
};
export const daysBetween = (first, last) => dayNumber(last) - dayNumber(first);
export const dateStartMs = (date) => dayNumber(date) * DAY_MS;
const judgedDays = (claimed, appended) => {
  const a = dateOf(claimed), b = dateOf(appended);
  return a === b ? [a] : [a, b];
};
const strMin = (a, b) => (a < b ? a : b);
const strMax = (a, b) => (a > b ? a : b);
// Text sorts by code point, as Python's sorted() does (specs/encoding.md: not by UTF-16 code
// unit, JavaScript's default, once characters above U+FFFF appear).
export function byStr(a, b) {
  if (a === b) return 0;
  const x = [...a], y = [...b];
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d) return d < 0 ? -1 : 1;
  }
  return x.length < y.length ? -1 : x.length > y.length ? 1 : 0;
}

// ---------------------------------------------------------------- field shapes (specs/entries.md §5)

const ROLES = ['authority', 'mine', 'producer', 'trader', 'cutter', 'grader', 'retailer', 'publisher'];
const KP_STATUSES = ['participant', 'suspended', 'withdrawn'];
const HS_CODES = ['7102.10', '7102.21', '7102.31'];
const WARRANTY_STATEMENTS = ['2021', '2002'];
const PARAMETER_NAMES = ['cert-validity-days', 'confirm-days', 'mass-tolerance-points', 'mass-tolerance-ppm'];
const RE_COUNTRY = /^[A-Z]{2}$/;
const RE_CURRENCY = /^[A-Z]{3}$/;
const RE_DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const RE_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;
const RE_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._&'()-]{0,63}$/;
const RE_CTRL = /[\x00-\x1f\x7f]/;
const MAX_TEXT = 256;
const MAX_LIST = 1000;
const MAX_GOVERNORS = 100;
const MAX_SIGNATURES = 8;
const MAX_ENTRY_SIZE = 60000;
const MAX_RECORD_SIZE = 65535;

const shapeFail = (path, expected) => encFail(`field ${path}: expected ${expected}`);

export function checkDate(v, path) {
  const m = typeof v === 'string' ? RE_DATE.exec(v) : null;
  if (!m) throw shapeFail(path, 'a date YYYY-MM-DD');
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const dim = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
  if (!(y >= 1900 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= dim)) throw shapeFail(path, 'a real calendar date');
  return v;
}
function text(v, path) {
  if (typeof v !== 'string') throw shapeFail(path, 'text');
  const n = [...v].length;
  if (n < 1 || n > MAX_TEXT) throw shapeFail(path, `text of 1-${MAX_TEXT} characters`);
  if (RE_CTRL.test(v)) throw shapeFail(path, 'text without control characters');
  return v;
}
const ident = (v, path) => { if (typeof v !== 'string' || !RE_ID.test(v)) throw shapeFail(path, 'an id'); return v; };
const pname = (v, path) => { if (typeof v !== 'string' || !RE_NAME.test(v)) throw shapeFail(path, 'a name'); return v; };
const country = (v, path) => { if (typeof v !== 'string' || !RE_COUNTRY.test(v)) throw shapeFail(path, 'a country code'); return v; };
function uint(v, path, positive = false) {
  if (typeof v === 'bigint') {
    if (v < 0n || v >= 1n << 63n) throw shapeFail(path, 'an integer below 2^63');
    throw new Unsupported(`field ${path}: integer beyond 2^53`);
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (positive ? 1 : 0)) throw shapeFail(path, 'a non-negative integer');
  return v;
}
const bin = (v, path, size) => { if (!isBytes(v) || v.length !== size) throw shapeFail(path, `${size} bytes`); return v; };
const oneOf = (v, path, choices) => { if (!choices.includes(v)) throw shapeFail(path, `one of ${choices.join(', ')}`); return v; };
function exactMap(v, path, required, optional = []) {
  if (!isMap(v)) throw shapeFail(path, 'a map');
  for (const k of required) if (!(k in v)) throw encFail(`field ${path}.${k}: missing`);
  for (const k of Object.keys(v)) if (!required.includes(k) && !optional.includes(k)) throw encFail(`field ${path}.${k}: unknown field`);
  return v;
}
function list(v, path, item, min = 1, max = MAX_LIST) {
  if (!Array.isArray(v) || v.length < min || v.length > max) throw shapeFail(path, `a list of ${min}-${max} items`);
  v.forEach((x, i) => item(x, `${path}[${i}]`));
  return v;
}
function unique(values, path) {
  const keys = values.map((x) => (isBytes(x) ? `b:${hex(x)}` : `s:${x}`));
  if (new Set(keys).size !== keys.length) throw encFail(`field ${path}: duplicate items`);
  return values;
}
// A money field: committed {commitment: 32 bytes, currency} (specs/disclosure.md), or, as
// entries written before commitments still are, clear {amount, currency}.
const money = (v, path) => {
  const committed = isMap(v) && 'commitment' in v;
  const m = exactMap(v, path, committed ? ['commitment', 'currency'] : ['amount', 'currency']);
  if (committed) bin(m.commitment, `${path}.commitment`, 32);
  else uint(m.amount, `${path}.amount`);
  if (typeof m.currency !== 'string' || !RE_CURRENCY.test(m.currency)) throw shapeFail(`${path}.currency`, 'an ISO 4217 code');
  return m;
};
const input = (v, path) => { const m = exactMap(v, path, ['parcel', 'head']); ident(m.parcel, `${path}.parcel`); bin(m.head, `${path}.head`, 32); return m; };
const inputs = (v, path) => { const items = list(v, path, input); unique(items.map((i) => i.parcel), path); return items; };
const output = (v, path) => {
  const m = exactMap(v, path, ['parcel', 'carats'], ['stones']);
  ident(m.parcel, `${path}.parcel`);
  uint(m.carats, `${path}.carats`, true);
  if ('stones' in m) uint(m.stones, `${path}.stones`, true);
  return m;
};
const outputs = (min) => (v, path) => { const items = list(v, path, output, min); unique(items.map((o) => o.parcel), path); return items; };
const governor = (v, path) => { const m = exactMap(v, path, ['name', 'pub']); pname(m.name, `${path}.name`); bin(m.pub, `${path}.pub`, 32); return m; };
const governors = (v, path) => {
  const items = list(v, path, governor, 1, MAX_GOVERNORS);
  unique(items.map((g) => g.name), path);
  unique(items.map((g) => g.pub), path);
  return items;
};
const b32 = (v, p) => bin(v, p, 32);
const posint = (v, p) => uint(v, p, true);

const ENTRY_TYPES = {
  genesis: [{ operator: b32, name: pname }, { governors, threshold: posint }],
  'governance.set': [{ governors, threshold: posint }, {}],
  'participant.add': [{ name: pname, pub: b32, roles: (v, p) => unique(list(v, p, (r, q) => oneOf(r, q, ROLES)), p), country }, {}],
  'participant.revoke': [{ name: pname }, { reason: text, compromised_since: (v, p) => uint(v, p) }],
  'participant.rotate': [{ name: pname, pub: b32 }, {}],
  'kp-status.set': [{ country, status: (v, p) => oneOf(v, p, KP_STATUSES), from: checkDate }, {}],
  'param.set': [{ name: (v, p) => oneOf(v, p, PARAMETER_NAMES), value: (v, p) => uint(v, p), from: checkDate }, {}],
  origin: [{ parcel: ident, carats: posint, stones: posint, mine: text, hs: (v, p) => oneOf(v, p, HS_CODES) }, {}],
  grow: [{ parcel: ident, carats: posint, stones: posint, facility: text }, {}],
  'sanction.designate': [{ list: ident, party: pname, from: checkDate }, { reason: text }],
  'sanction.delist': [{ list: ident, party: pname, from: checkDate }, {}],
  'certificate.issue': [{
    number: ident,
    parcels: (v, p) => unique(list(v, p, ident), p),
    exporter: pname,
    importer: pname,
    exporter_country: country,
    importer_country: country,
    value: money,
    expires: checkDate,
    carats: posint,
    count: posint,
    hs: (v, p) => list(v, p, (h, q) => oneOf(h, q, HS_CODES)),
    origins: (v, p) => list(v, p, country),
  }, {}],
  'certificate.confirm': [{ number: ident, shipment: b32, carats: posint, count: posint }, {}],
  transfer: [{ to: pname, inputs }, { certificate: ident, price: money, warranty: (v, p) => oneOf(v, p, WARRANTY_STATEMENTS), wdc: ident }],
  accept: [{ transfer: b32 }, {}],
  reject: [{ transfer: b32 }, { reason: text }],
  cancel: [{ transfer: b32 }, {}],
  split: [{ input, outputs: outputs(2) }, {}],
  merge: [{ inputs, output }, {}],
  cut: [{ inputs, stones: outputs(1) }, { byproducts: outputs(1) }],
  grade: [{ input, report: ident }, { carats: posint }],
  sell: [{ input }, { price: money }],
};

function checkFields(type, fields) {
  const schema = Object.prototype.hasOwnProperty.call(ENTRY_TYPES, type) ? ENTRY_TYPES[type] : null;
  if (!schema) throw encFail(`field type: unknown entry type ${type}`);
  const [req, opt] = schema;
  exactMap(fields, 'fields', Object.keys(req), Object.keys(opt));
  for (const [k, c] of Object.entries(req)) c(fields[k], `fields.${k}`);
  for (const [k, c] of Object.entries(opt)) if (k in fields) c(fields[k], `fields.${k}`);
  if (type === 'genesis' && ('governors' in fields) !== ('threshold' in fields)) throw encFail('fields.governors and fields.threshold come together');
  return fields;
}

function decodeCanonical(data, maxSize, what) {
  if (data.length > maxSize) throw encFail(`${what} is ${data.length} bytes, the limit is ${maxSize}`);
  try {
    return decode(data);
  } catch (e) {
    if (e instanceof EncodingError) throw encFail(`${what}: ${e.message}`);
    throw e;
  }
}
const version = (m, what) => { if (m.v !== 1) throw encFail(`${what}: unsupported format version`); };

export function parseRecord(raw) {
  const m = decodeCanonical(raw, MAX_RECORD_SIZE, 'record');
  if (!isMap(m)) throw encFail('record must be a map');
  version(m, 'record');
  exactMap(m, 'record', ['v', 'index', 'prev', 'time', 'entry']);
  uint(m.index, 'index');
  bin(m.prev, 'prev', 32);
  uint(m.time, 'time');
  if (!isBytes(m.entry)) throw shapeFail('entry', 'bytes');
  return { index: m.index, prev: m.prev, time: m.time, entryBytes: m.entry };
}

export async function parseEntry(raw) {
  const m = decodeCanonical(raw, MAX_ENTRY_SIZE, 'entry');
  if (!isMap(m)) throw encFail('entry must be a map');
  version(m, 'entry');
  exactMap(m, 'entry', ['v', 'body', 'sigs']);
  if (!isBytes(m.body)) throw shapeFail('body', 'bytes');
  if (!Array.isArray(m.sigs) || m.sigs.length < 1 || m.sigs.length > MAX_SIGNATURES) throw shapeFail('sigs', 'a list of 1-8 signatures');
  const sigs = m.sigs.map((s, i) => {
    exactMap(s, `sigs[${i}]`, ['kid', 'sig']);
    return { kid: bin(s.kid, `sigs[${i}].kid`, 32), sig: bin(s.sig, `sigs[${i}].sig`, 64) };
  });
  if (new Set(sigs.map((s) => hex(s.kid))).size !== sigs.length) throw encFail('field sigs: the same key signs twice');
  const b = decodeCanonical(m.body, 1 << 20, 'entry body');
  if (!isMap(b)) throw encFail('entry body must be a map');
  version(b, 'entry body');
  exactMap(b, 'body', ['v', 'type', 'ledger', 'signer', 'time', 'fields']);
  if (typeof b.type !== 'string') throw shapeFail('type', 'text');
  text(b.ledger, 'ledger');
  bin(b.signer, 'signer', 32);
  uint(b.time, 'time');
  checkFields(b.type, b.fields);
  if (!sigs.some((s) => eq(s.kid, b.signer))) throw encFail('field sigs: no signature by the body\'s signer');
  return {
    bodyBytes: m.body, type: b.type, ledger: b.ledger, signer: b.signer, time: b.time,
    fields: b.fields, sigs, id: await sha256(raw),
  };
}
const signedBy = (entry, kid) => entry.sigs.find((s) => eq(s.kid, kid)) ?? null;
const SIG_CONTEXT = concat(utf8('kpledger/v1 entry signature'), Uint8Array.of(0));

// Signature checks are pure and the same triple recurs across bundles of one ledger.
const sigCache = new Map();
async function entrySigOk(entry, sig, pub) {
  const k = `${hex(pub)}:${hex(sig.sig)}:${hex(entry.id)}`;
  if (sigCache.has(k)) return sigCache.get(k);
  const why = await ed25519Verify(pub, concat(SIG_CONTEXT, entry.bodyBytes), sig.sig);
  if (sigCache.size > 100000) sigCache.clear();
  sigCache.set(k, why);
  return why;
}

// ---------------------------------------------------------------- state

export class RState {
  constructor() { this.data = new Map(); this.writes = []; }
  get(kind, key) { const v = this.data.get(`${kind}\0${key}`); return v === undefined ? null : v; }
  put(kind, key, value) { this.data.set(`${kind}\0${key}`, value); this.writes.push([kind, key]); }
  *items(kind) {
    const p = `${kind}\0`;
    for (const [k, v] of this.data) if (k.startsWith(p)) yield [k.slice(p.length), v];
  }
  meta() { return this.get('meta', 'ledger'); }
  governance() { return this.get('gov', 'set'); }
  key(kid) { return this.get('kid', hex(kid)); }
  putKey(kid, info) { this.put('kid', hex(kid), info); }
  party(name) { return this.get('party', name); }
  putParty(p) { this.put('party', p.name, p); }
  parcel(pid) { return this.get('parcel', pid); }
  putParcel(p) { this.put('parcel', p.id, p); }
  transfer(offer) { return this.get('transfer', hex(offer)); }
  putTransfer(offer, t) { this.put('transfer', hex(offer), t); }
  cert(n) { return this.get('cert', n); }
  putCert(c) { this.put('cert', c.number, c); }
}

// ---------------------------------------------------------------- parameters (specs/rules.md §3.4)

const MAX_SKEW_MS = 5 * 60 * 1000;
const MAX_AGE_MS = 30 * DAY_MS;
const OFFER_TTL_MS = 30 * DAY_MS;
const PROPOSAL_TTL_MS = 7 * DAY_MS;
const YIELD_MIN = 150n, YIELD_MAX = 700n;
const STONES_PER_ROUGH = 3;
const RECEIVER_ROLES = ['trader', 'cutter', 'grader', 'retailer'];
const ROUGH_KINDS = ['rough', 'byproduct'];
const OPERATOR_ROLE = 'operator';
const GOVERNOR_ROLE = 'governor';
const MAX_THRESHOLD = 7;
const PPM = 1000000n;
const GROWN_HS = '7104.21';
const LEGACY_WARRANTY_UNTIL = { rough: '2024-09-30', other: '2026-09-30' };
export const PARAMETERS = {
  'cert-validity-days': { def: 60, low: 1, high: 366 },
  'confirm-days': { def: 30, low: 1, high: 366 },
  'mass-tolerance-points': { def: 1, low: 0, high: 100 },
  'mass-tolerance-ppm': { def: 500, low: 0, high: 10000 },
};

function param(state, name, day) {
  let value = PARAMETERS[name].def;
  for (const [start, v] of state.get('param', name) ?? []) {
    if (start <= day) value = v; else break;
  }
  return value;
}
function tolerance(state, day, mass, weighings) {
  const per = BigInt(param(state, 'mass-tolerance-points', day));
  const ppm = BigInt(param(state, 'mass-tolerance-ppm', day));
  const a = per * BigInt(weighings), b = (BigInt(mass) * ppm) / 1000000n;
  return a > b ? a : b;
}
const big = (n) => BigInt(n);

// ---------------------------------------------------------------- signers (R-ID-*)

function getParty(state, rule, name, what) {
  const p = state.party(name);
  if (p === null) throw ruleFail(rule, `${what} ${name} is not a registered participant`);
  if (p.revoked !== null) throw ruleFail('R-ID-2', `${what} ${name} was revoked at record ${p.revoked}`);
  return { ...p };
}
async function verifySigs(state, entry, extra) {
  for (const sig of entry.sigs) {
    let pub = extra.get(hex(sig.kid)) ?? null;
    if (pub === null) {
      const info = state.key(sig.kid);
      if (info === null) throw ruleFail('R-ID-1', `signature by unknown key ${hex(sig.kid).slice(0, 16)}`);
      if (info.until !== null) throw ruleFail('R-ID-2', `signature by key ${hex(sig.kid).slice(0, 16)}, no longer in force`);
      pub = info.pub;
    }
    const why = await entrySigOk(entry, sig, pub);
    if (why) throw ruleFail('R-ID-1', `signature by key ${hex(sig.kid).slice(0, 16)} is invalid: ${why}`);
  }
}
function signerOf(state, entry) {
  const info = state.key(entry.signer);
  if (info === null) throw ruleFail('R-ID-1', 'signer key is not registered');
  if (info.until !== null) throw ruleFail('R-ID-2', `signer key of ${info.name} was ${info.revoked ? 'revoked' : 'rotated out'} at record ${info.until}`);
  const party = state.party(info.name);
  if (party === null) throw ruleFail('R-ID-1', `signer ${info.name} is not a registered participant`);
  return { name: info.name, kid: entry.signer, roles: [...party.roles], country: party.country };
}
function requireRole(signer, role, action) {
  if (!signer.roles.includes(role)) throw ruleFail('R-ID-1', `${signer.name} lacks the ${role} role needed to ${action}`);
}
function usable(pub, what) {
  const why = checkPublicKey(pub);
  if (why) throw ruleFail('R-ID-6', `${what} is unusable: ${why}`);
}

// ---------------------------------------------------------------- governance (R-GV-*)

function checkSet(govs, threshold) {
  const n = govs.length;
  if (threshold < 1 || threshold > n || threshold > MAX_THRESHOLD) throw ruleFail('R-GV-3', `threshold ${threshold} of ${n}`);
}
const nameOfKid = (state, kid) => { const info = state.key(kid); return info !== null ? info.name : hex(kid).slice(0, 16); };
const hasKid = (kids, kid) => kids.some((k) => eq(k, kid));

async function requireRegistry(a, action, also = null) {
  const { state, entry } = a;
  const gov = state.governance();
  if (gov === null) {
    const meta = state.meta();
    if (meta === null || !eq(a.signer.kid, meta.operator)) throw ruleFail('R-ID-3', `only the operator may ${action}`);
    return;
  }
  const members = gov.governors;
  const approved = entry.sigs.filter((s) => hasKid(members, s.kid));
  if (approved.length < gov.threshold) throw ruleFail('R-GV-1', `to ${action} needs ${gov.threshold} governors`);
  if (!hasKid(members, a.signer.kid)) throw ruleFail('R-GV-2', 'a registry change is proposed by a governor');
  for (const s of entry.sigs) {
    if (!hasKid(members, s.kid) && !(also !== null && eq(s.kid, also))) throw ruleFail('R-GV-2', 'signature by a non-governor on a registry change');
  }
  if (a.now > entry.time + PROPOSAL_TTL_MS) throw ruleFail('R-GV-4', 'the proposal expired');
  const pid = hex(await sha256(entry.bodyBytes));
  const seen = state.get('proposal', pid);
  if (seen !== null) throw ruleFail('R-GV-5', `this proposal was already applied at record ${seen}`);
  state.put('proposal', pid, a.index);
}

async function install(state, govs, threshold, index, now, entryId) {
  checkSet(govs, threshold);
  const old = state.governance();
  const current = new Map();
  for (const kid of old ? old.governors : []) current.set(nameOfKid(state, kid), kid);
  const kids = [];
  const named = new Set();
  for (const g of govs) {
    const { name, pub } = g;
    const kid = await sha256(pub);
    named.add(name);
    kids.push(kid);
    if (current.has(name) && eq(current.get(name), kid)) continue;
    const holder = state.key(kid);
    if (holder !== null) throw ruleFail('R-GV-3', `the key of governor ${name} is already registered`);
    const why = checkPublicKey(pub);
    if (why) throw ruleFail('R-GV-3', `the key of governor ${name} is unusable: ${why}`);
    let party;
    if (current.has(name)) {
      const p = state.party(name);
      const retired = state.key(current.get(name));
      if (p === null || retired === null) throw ruleFail('R-GV-3', `governor ${name} is missing from the registry`);
      state.putKey(current.get(name), { ...retired, until: index, revoked: false });
      party = { ...p, kid, entries: [...p.entries, entryId] };
    } else {
      if (state.party(name) !== null) throw ruleFail('R-GV-3', `governor name ${name} is already registered`);
      party = { name, kid, roles: [GOVERNOR_ROLE], country: '--', revoked: null, entries: [entryId] };
    }
    state.putKey(kid, { name, pub, from: index, until: null });
    state.putParty(party);
  }
  for (const [name, kid] of current) {
    if (named.has(name)) continue;
    const left = state.party(name);
    const info = state.key(kid);
    if (left === null || info === null) continue;
    state.putParty({ ...left, revoked: index, revoked_at: now, entries: [...left.entries, entryId] });
    state.putKey(kid, { ...info, until: index, revoked: true });
  }
  const history = old ? old.entries : [];
  state.put('gov', 'set', { governors: kids, threshold, since: index, entries: [...history, entryId] });
}

function requireNotGovernor(state, name) {
  const p = state.party(name);
  if (p !== null && p.roles.includes(GOVERNOR_ROLE)) throw ruleFail('R-GV-3', `${name} is a governor`);
}

// ---------------------------------------------------------------- registry

async function genesis(state, entry, index, now) {
  if (index !== 0 || state.meta() !== null) throw ruleFail('R-CH-4', 'a genesis entry may only be the first record');
  const f = entry.fields;
  const operator = f.operator;
  const kid = await sha256(operator);
  if (!eq(entry.signer, kid)) throw ruleFail('R-ID-3', 'the genesis entry must be signed by the operator key it names');
  usable(operator, 'operator key');
  await verifySigs(state, entry, new Map([[hex(kid), operator]]));
  state.put('meta', 'ledger', { origin: entry.ledger, operator: kid, name: f.name, genesis: entry.id });
  state.putKey(kid, { name: f.name, pub: operator, from: 0, until: null });
  state.putParty({ name: f.name, kid, roles: [OPERATOR_ROLE], country: '--', revoked: null, entries: [entry.id] });
  if ('governors' in f) await install(state, f.governors, f.threshold, index, now, entry.id);
}

async function governanceSet(a) {
  if (a.state.governance() === null) {
    const meta = a.state.meta();
    if (meta === null || !eq(a.signer.kid, meta.operator)) throw ruleFail('R-ID-3', 'only the operator may move this ledger to governance');
  } else await requireRegistry(a, 'change the governance set');
  await install(a.state, a.fields.governors, a.fields.threshold, a.index, a.now, a.entry.id);
}

async function participantAdd(a) {
  await requireRegistry(a, 'add participants');
  const { state, fields: f } = a;
  if (state.party(f.name) !== null) throw ruleFail('R-ID-6', `participant name ${f.name} is already registered`);
  const kid = await sha256(f.pub);
  if (state.key(kid) !== null) throw ruleFail('R-ID-6', 'this public key is already registered');
  usable(f.pub, 'public key');
  state.putKey(kid, { name: f.name, pub: f.pub, from: a.index, until: null });
  state.putParty({ name: f.name, kid, roles: [...f.roles], country: f.country, revoked: null, entries: [a.entry.id] });
}

async function participantRevoke(a) {
  await requireRegistry(a, 'revoke participants');
  const { state, fields: f } = a;
  const party = getParty(state, 'R-ID-6', f.name, 'participant');
  requireNotGovernor(state, f.name);
  if (party.roles.includes(OPERATOR_ROLE)) throw ruleFail('R-ID-3', 'the operator cannot be revoked');
  const since = 'compromised_since' in f ? f.compromised_since : null;
  if (since !== null && since > a.now) throw ruleFail('R-ID-2', 'a key cannot be compromised since a time after its revocation is appended');
  party.revoked = a.index;
  party.revoked_at = a.now;
  party.entries = [...party.entries, a.entry.id];
  if (since !== null) party.compromised = since;
  state.putParty(party);
  const old = state.key(party.kid);
  const info = old !== null ? { ...old } : { name: party.name, pub: new Uint8Array(0), from: 0, until: null };
  info.until = a.index;
  info.revoked = true;
  if (since !== null) info.compromised = since;
  state.putKey(party.kid, info);
}

async function participantRotate(a) {
  const { state, fields: f } = a;
  const named = state.party(f.name);
  await requireRegistry(a, 'rotate keys', named !== null ? named.kid : null);
  const party = getParty(state, 'R-ID-6', f.name, 'participant');
  requireNotGovernor(state, f.name);
  if (party.roles.includes(OPERATOR_ROLE)) throw ruleFail('R-ID-3', 'the operator key cannot be rotated');
  if (signedBy(a.entry, party.kid) === null) throw ruleFail('R-ID-5', `a key rotation must be co-signed by the old key of ${f.name}`);
  const newKid = await sha256(f.pub);
  if (state.key(newKid) !== null) throw ruleFail('R-ID-6', 'the new public key is already registered');
  usable(f.pub, 'the new public key');
  const old = state.key(party.kid);
  if (old !== null) state.putKey(party.kid, { ...old, until: a.index, revoked: false });
  state.putKey(newKid, { name: f.name, pub: f.pub, from: a.index, until: null });
  party.kid = newKid;
  party.entries = [...party.entries, a.entry.id];
  state.putParty(party);
}

async function kpStatusSet(a) {
  await requireRegistry(a, 'set KP status');
  const { state, fields: f } = a;
  const periods = [...(state.get('kp', f.country) ?? [])];
  if (periods.length && f.from <= periods[periods.length - 1][0]) throw ruleFail('R-KP-7', `KP status of ${f.country} from ${f.from} must start after the last period`);
  periods.push([f.from, f.status]);
  state.put('kp', f.country, periods);
  state.put('kp-entries', f.country, [...(state.get('kp-entries', f.country) ?? []), a.entry.id]);
}

async function paramSet(a) {
  await requireRegistry(a, 'set rule parameters');
  const { state, fields: f } = a;
  const spec = PARAMETERS[f.name];
  if (!(spec.low <= f.value && f.value <= spec.high)) throw ruleFail('R-PA-1', `${f.name} must be ${spec.low} to ${spec.high}`);
  if (f.from < a.day) throw ruleFail('R-PA-1', 'a rule parameter cannot change retroactively');
  const periods = [...(state.get('param', f.name) ?? [])];
  if (periods.length && f.from <= periods[periods.length - 1][0]) throw ruleFail('R-PA-1', `${f.name} must start after its last change`);
  periods.push([f.from, f.value]);
  state.put('param', f.name, periods);
  state.put('param-entries', f.name, [...(state.get('param-entries', f.name) ?? []), a.entry.id]);
}

function designation(a, status) {
  requireRole(a.signer, 'publisher', 'publish sanctions designations');
  const { state, fields: f } = a;
  const owner = state.get('list', f.list);
  if (owner !== null && owner.publisher !== a.signer.name) throw ruleFail('R-SA-4', `sanctions list ${f.list} is published by ${owner.publisher}`);
  let party = state.party(f.party);
  if (party === null) throw ruleFail('R-SA-4', `${f.party} is not a registered participant`);
  if (daysBetween(f.from, a.day) > 30) throw ruleFail('R-SA-4', 'a designation takes effect at most 30 days before it is published');
  const lists = {};
  for (const [k, v] of Object.entries(party.lists ?? {})) lists[k] = [...v];
  const periods = Object.prototype.hasOwnProperty.call(lists, f.list) ? lists[f.list] : [];
  if (periods.length && f.from <= periods[periods.length - 1][0]) throw ruleFail('R-SA-4', 'must start after its last change');
  const current = periods.length ? periods[periods.length - 1][1] : 'delisted';
  if (current === status) throw ruleFail('R-SA-4', `${f.party} is already ${status} on ${f.list}`);
  lists[f.list] = [...periods, [f.from, status]];
  party = { ...party, lists, entries: [...party.entries, a.entry.id] };
  state.putParty(party);
  if (owner === null) state.put('list', f.list, { publisher: a.signer.name });
}

export function listed(party, listId, day) {
  let status = 'delisted';
  const periods = party !== null && party.lists && Object.prototype.hasOwnProperty.call(party.lists, listId) ? party.lists[listId] : [];
  for (const [start, value] of periods) if (start <= day) status = value;
  return status === 'listed';
}

// ---------------------------------------------------------------- KP scheme (R-KP-*)

function kpStatus(state, cc, date) {
  let status = 'none';
  for (const [start, value] of state.get('kp', cc) ?? []) {
    if (start <= date) status = value; else break;
  }
  return status;
}
function requireStanding(state, rule, countries, days) {
  for (const [cc, what] of countries) {
    for (const day of days) {
      const s = kpStatus(state, cc, day);
      if (s !== 'participant') throw ruleFail(rule, `${what} ${cc} is ${s === 'none' ? 'not a KP participant' : s} on ${day}`);
    }
  }
}
function requireAuthorityInForce(state, cert) {
  const auth = state.party(cert.authority);
  if (auth !== null && auth.revoked !== null) throw ruleFail('R-ID-2', `KP certificate ${cert.number} was issued by a revoked authority`);
}

function certificateIssue(a) {
  requireRole(a.signer, 'authority', 'issue KP certificates');
  const { state, fields: f } = a;
  const rule = 'R-KP-6';
  const exp = f.exporter_country, imp = f.importer_country;
  if (a.signer.country !== exp) throw ruleFail(rule, 'an authority certifies exports from its own country');
  if (!f.number.startsWith(exp)) throw ruleFail(rule, 'certificate number prefix');
  if (state.get('cert', f.number) !== null) throw ruleFail(rule, 'certificate number already used');
  if (a.signer.name === f.exporter || a.signer.name === f.importer) throw ruleFail(rule, 'self-certification');
  const exporter = getParty(state, rule, f.exporter, 'exporter');
  const importer = getParty(state, rule, f.importer, 'importer');
  if (exporter.country !== exp) throw ruleFail(rule, 'exporter country');
  if (importer.country !== imp) throw ruleFail(rule, 'importer country');
  if (imp === exp) throw ruleFail(rule, 'a KP certificate covers an export to another country');
  const issued = dateOf(a.time);
  if (f.expires < issued) throw ruleFail(rule, 'expires before issue');
  if (daysBetween(issued, f.expires) > param(state, 'cert-validity-days', a.day)) throw ruleFail(rule, 'certificate valid too long');
  requireStanding(state, 'R-KP-5', [[exp, 'exporting country'], [imp, 'importing country']], a.days);
  if (f.value.currency !== 'USD') throw ruleFail(rule, 'the certificate value must be in USD');
  let carats = 0n;
  const hs = new Set(), may = new Set();
  for (const pid of f.parcels) {
    const p = state.parcel(pid);
    if (p === null) throw ruleFail('R-CU-6', `unknown parcel ${pid}`);
    if (p.status !== 'live' || p.holder !== f.exporter) throw ruleFail(rule, `exporter does not hold parcel ${pid}`);
    if (!ROUGH_KINDS.includes(p.kind)) throw ruleFail(rule, `${pid} is polished`);
    if (p.grown) throw ruleFail(rule, `${pid} is laboratory-grown`);
    carats += big(p.carats);
    hs.add(p.hs || '7102.10');
    for (const c of p.may) may.add(c);
  }
  if (big(f.carats) !== carats) throw ruleFail(rule, 'certificate carats');
  if (f.count !== f.parcels.length) throw ruleFail(rule, 'certificate count');
  if (f.hs.join('\n') !== [...hs].sort(byStr).join('\n')) throw ruleFail(rule, 'certificate HS codes');
  if (f.origins.join('\n') !== [...may].sort(byStr).join('\n')) throw ruleFail('R-KP-4', 'certificate origins must list every mining country');
  state.putCert({
    number: f.number, id: a.entry.id, issued, expires: f.expires, exporter: f.exporter, importer: f.importer,
    exporter_country: exp, importer_country: imp, parcels: [...f.parcels].sort(byStr), carats: Number(carats),
    authority: a.signer.name, used: null,
  });
}

function checkCertificate(a, number, receiver, parcels) {
  const { state, signer: sender } = a;
  let cert = state.cert(number);
  if (cert === null) throw ruleFail('R-KP-2', `no KP certificate ${number}`);
  if (cert.used !== null) throw ruleFail('R-KP-2', `KP certificate ${number} was already used`);
  requireAuthorityInForce(state, cert);
  if (cert.exporter !== sender.name || cert.importer !== receiver.name) throw ruleFail('R-KP-2', 'certificate parties');
  if (cert.exporter_country !== sender.country || cert.importer_country !== receiver.country) throw ruleFail('R-KP-2', 'certificate countries');
  if (parcels.map((p) => p.id).sort(byStr).join('\n') !== cert.parcels.join('\n')) throw ruleFail('R-KP-2', 'certificate parcels');
  if (parcels.reduce((s, p) => s + big(p.carats), 0n) !== big(cert.carats)) throw ruleFail('R-KP-2', 'certificate weight');
  for (const day of a.days) {
    if (!(cert.issued <= day && day <= cert.expires)) throw ruleFail('R-KP-2', `certificate not valid on ${day}`);
  }
  cert = { ...cert, used: a.entry.id };
  state.putCert(cert);
}

function certificateConfirm(a) {
  requireRole(a.signer, 'authority', 'confirm KP imports');
  const { state, fields: f } = a;
  let cert = state.cert(f.number);
  if (cert === null) throw ruleFail('R-KP-3', `no KP certificate ${f.number}`);
  if (a.signer.country !== cert.importer_country) throw ruleFail('R-KP-3', 'only the importing authority confirms');
  if ('confirmed' in cert) throw ruleFail('R-KP-3', 'already confirmed');
  if (cert.used === null || !eq(cert.used, f.shipment)) throw ruleFail('R-KP-3', 'certificate not used for this shipment');
  const offer = state.transfer(f.shipment);
  if (offer === null || offer.status !== 'accepted') throw ruleFail('R-KP-3', 'shipment not accepted');
  if (f.count !== cert.parcels.length) throw ruleFail('R-KP-3', 'confirmation count');
  const tau = tolerance(state, a.day, cert.carats, cert.parcels.length);
  const d = big(f.carats) - big(cert.carats);
  if ((d < 0n ? -d : d) > tau) throw ruleFail('R-KP-3', 'confirmation weight');
  cert = { ...cert, confirmed: a.entry.id };
  state.putCert(cert);
}

// ---------------------------------------------------------------- parcels (R-CU-*)

export function entryParents(entry) {
  const f = entry.fields;
  if ('inputs' in f) return f.inputs.map((i) => i.head);
  if ('input' in f) return [f.input.head];
  if (['accept', 'reject', 'cancel'].includes(entry.type)) return [f.transfer];
  return [];
}

function liveInput(a, inp) {
  const pid = inp.parcel;
  const p = a.state.parcel(pid);
  if (p === null) throw ruleFail('R-CU-6', `unknown parcel ${pid}`);
  if (p.status === 'consumed') throw ruleFail('R-CU-3', `parcel ${pid} was already consumed`);
  if (p.status === 'sold') throw ruleFail('R-CU-3', `stone ${pid} was sold`);
  if (!eq(p.head, inp.head)) throw ruleFail('R-CU-3', `parcel ${pid} is at another state`);
  if (p.holder !== a.signer.name) throw ruleFail('R-CU-1', `${a.signer.name} is not the custodian of ${pid}`);
  if (p.status === 'locked') throw ruleFail('R-CU-2', `parcel ${pid} is locked in a pending transfer`);
  if (a.time + MAX_SKEW_MS < p.time) throw ruleFail('R-TM-2', `entry time is earlier than the last event of ${pid}`);
  return { ...p };
}
function newId(state, pid) {
  if (state.get('parcel', pid) !== null) throw ruleFail('R-CU-7', `parcel or stone id ${pid} is already in use`);
}
function consume(a, parcel) {
  a.state.putParcel({ ...parcel, status: 'consumed', head: a.entry.id });
}
function mergedPath(parcels) {
  const out = {};
  for (const p of parcels) {
    for (const [cc, [first, last]] of Object.entries(p.path)) {
      const have = Object.prototype.hasOwnProperty.call(out, cc) ? out[cc] : null;
      out[cc] = have === null ? [first, last] : [strMin(have[0], first), strMax(have[1], last)];
    }
  }
  return out;
}
function held(parcel, cc, day) {
  const path = { ...parcel.path };
  const have = Object.prototype.hasOwnProperty.call(path, cc) ? path[cc] : null;
  path[cc] = have === null ? [day, day] : [strMin(have[0], day), strMax(have[1], day)];
  parcel.path = path;
}
function create(a, { pid, kind, carats, stones, comp, may, hs, inputs: ins = [], yieldPermille = null, grown = false }) {
  newId(a.state, pid);
  const parcel = {
    id: pid, kind, carats, stones, holder: a.signer.name, head: a.entry.id, status: 'live', transfer: null,
    comp: { ...comp }, may: [...new Set(may)].sort(byStr), hs, time: a.time, created: a.entry.id,
    yield: yieldPermille, report: null, path: mergedPath(ins),
  };
  held(parcel, a.signer.country, a.day);
  if (grown) parcel.grown = true;
  if (ins.some((p) => p.unwarranted)) parcel.unwarranted = true;
  a.state.putParcel(parcel);
}

// ---------------------------------------------------------------- custody

function checkWarranty(a, parcels, warranty) {
  if (warranty === null) {
    if ('wdc' in a.fields) throw ruleFail('R-SW-1', 'a WDC registration id names a warranty statement: the transfer carries none');
    a.warn('R-SW-1', 'B2B transfer without a System of Warranties statement');
    return;
  }
  const broken = parcels.filter((p) => p.unwarranted).map((p) => p.id);
  if (broken.length) throw ruleFail('R-SW-2', `cannot warrant ${broken.join(', ')}`);
  if (warranty === '2002') {
    const rough = parcels.every((p) => ROUGH_KINDS.includes(p.kind));
    if (a.day > LEGACY_WARRANTY_UNTIL[rough ? 'rough' : 'other']) a.warn('R-SW-1', 'the 2002 statement expired');
  }
}

function transfer(a) {
  const f = a.fields;
  const receiver = getParty(a.state, 'R-CU-8', f.to, 'receiver');
  if (receiver.name === a.signer.name) throw ruleFail('R-CU-8', 'a transfer needs a different receiver');
  if (!receiver.roles.some((r) => RECEIVER_ROLES.includes(r))) throw ruleFail('R-ID-1', `receiver ${f.to} has no role that can take custody`);
  const parcels = f.inputs.map((i) => liveInput(a, i));
  const rough = parcels.filter((p) => ROUGH_KINDS.includes(p.kind) && !p.grown);
  const crossBorder = receiver.country !== a.signer.country;
  const number = 'certificate' in f ? f.certificate : null;
  if (rough.length && crossBorder && number === null) throw ruleFail('R-KP-2', 'rough crossing needs a KP certificate');
  const crossing = rough.length && crossBorder ? [a.signer.country, receiver.country] : null;
  if (crossing !== null) requireStanding(a.state, 'R-KP-5', [[crossing[0], 'exporting country'], [crossing[1], 'importing country']], a.days);
  if (number !== null) checkCertificate(a, number, receiver, parcels);
  const warranty = 'warranty' in f ? f.warranty : null;
  checkWarranty(a, parcels, warranty);
  for (const p of parcels) {
    Object.assign(p, { status: 'locked', transfer: a.entry.id, head: a.entry.id, time: a.time });
    held(p, a.signer.country, a.day);
    a.state.putParcel(p);
  }
  const offer = { from: a.signer.name, to: receiver.name, parcels: parcels.map((p) => p.id), status: 'pending', time: a.time, certificate: number };
  if (crossing !== null) offer.cross = crossing;
  if (warranty !== null) offer.warranty = warranty;
  a.state.putTransfer(a.entry.id, offer);
}

function pending(a) {
  const offer = a.state.transfer(a.fields.transfer);
  if (offer === null) throw ruleFail('R-CU-6', 'no such transfer offer');
  if (offer.status !== 'pending') throw ruleFail('R-CU-2', `transfer is already ${offer.status}`);
  return { ...offer };
}
function settle(a, offer, status, holder, cc) {
  for (const pid of offer.parcels) {
    let p = a.state.parcel(pid);
    if (p === null) throw ruleFail('R-CU-6', `unknown parcel ${pid}`);
    if (a.time + MAX_SKEW_MS < p.time) throw ruleFail('R-TM-3', 'the answer to a transfer must follow the offer');
    p = { ...p, status: 'live', transfer: null, head: a.entry.id };
    p.time = Math.max(p.time, a.time);
    if (holder !== null) {
      p.holder = holder;
      if (!('warranty' in offer)) p.unwarranted = true;
    }
    held(p, cc, a.day);
    a.state.putParcel(p);
  }
  offer.status = status;
  a.state.putTransfer(a.fields.transfer, offer);
}
function accept(a) {
  const offer = pending(a);
  if (offer.to !== a.signer.name) throw ruleFail('R-CU-2', `only ${offer.to} can accept this transfer`);
  const sender = a.state.party(offer.from);
  if (sender !== null && sender.revoked !== null) throw ruleFail('R-ID-2', 'the offer is from a revoked participant');
  if (Math.max(a.time, a.now) > offer.time + OFFER_TTL_MS) throw ruleFail('R-TM-3', 'the offer expired');
  if ('cross' in offer) requireStanding(a.state, 'R-KP-5', [[offer.cross[0], 'exporting country'], [offer.cross[1], 'importing country']], a.days);
  if (offer.certificate !== null) {
    const cert = a.state.cert(offer.certificate);
    if (cert !== null) {
      requireAuthorityInForce(a.state, cert);
      a.state.putCert({ ...cert, accepted: a.now });
    }
  }
  settle(a, offer, 'accepted', a.signer.name, a.signer.country);
}
function reject(a) {
  const offer = pending(a);
  if (offer.to !== a.signer.name) throw ruleFail('R-CU-2', `only ${offer.to} can reject this transfer`);
  const sender = a.state.party(offer.from);
  settle(a, offer, 'rejected', null, sender !== null ? sender.country : a.signer.country);
}
function cancel(a) {
  const offer = pending(a);
  if (offer.from !== a.signer.name) throw ruleFail('R-CU-2', `only ${offer.from} can cancel this transfer`);
  settle(a, offer, 'cancelled', null, a.signer.country);
}

// ---------------------------------------------------------------- transformations (R-MB-*)

function massBalance(a, rule, massIn, massOut, n, loss) {
  const tau = tolerance(a.state, a.day, massIn, n);
  const mi = big(massIn), mo = big(massOut);
  if (mo > mi + tau) throw ruleFail(rule, `outputs weigh ${massOut} points, more than the ${massIn} they come from (mass inflation)`);
  if (loss && mi - mo > tau) a.warn('R-MB-1', 'mass lost without explanation');
}
function noPolished(parcels, action) {
  for (const p of parcels) if (p.kind === 'polished') throw ruleFail('R-MB-6', `${p.id} is a polished stone; it cannot be ${action}`);
}
function oneNature(parcels, action) {
  const grown = parcels.map((p) => Boolean(p.grown));
  if (grown.some((g) => g) && !grown.every((g) => g)) throw ruleFail('R-SW-3', `laboratory-grown goods cannot be ${action} with natural goods`);
  return grown.every((g) => g);
}
export function mixCompositions(parts) {
  const total = parts.reduce((s, [c]) => s + big(c), 0n);
  if (total <= 0n) throw new Unsupported('mixing needs a positive total mass');
  const numer = new Map();
  for (const [carats, comp] of parts) {
    for (const [cc, share] of Object.entries(comp)) numer.set(cc, (numer.get(cc) ?? 0n) + big(carats) * big(share));
  }
  const floors = new Map();
  for (const [cc, n] of numer) floors.set(cc, n / total);
  let missing = PPM;
  for (const v of floors.values()) missing -= v;
  const order = [...numer.keys()].sort((x, y) => {
    const rx = numer.get(x) % total, ry = numer.get(y) % total;
    if (rx !== ry) return rx > ry ? -1 : 1;
    return byStr(x, y);
  });
  for (const cc of order.slice(0, Number(missing > 0n ? missing : 0n))) floors.set(cc, floors.get(cc) + 1n);
  const out = {};
  for (const cc of [...floors.keys()].sort(byStr)) if (floors.get(cc) > 0n) out[cc] = Number(floors.get(cc));
  return out;
}
function newRough(a, site, hs, grown = false) {
  const f = a.fields;
  create(a, { pid: f.parcel, kind: 'rough', carats: f.carats, stones: f.stones, comp: { [a.signer.country]: 1000000 }, may: [a.signer.country], hs, grown });
  a.state.put('mine', f.parcel, { mine: site, by: a.signer.name });
}
function origin(a) {
  requireRole(a.signer, 'mine', 'register an origin');
  requireStanding(a.state, 'R-KP-1', [[a.signer.country, 'mining country']], a.days);
  newRough(a, a.fields.mine, a.fields.hs);
}
function grow(a) {
  requireRole(a.signer, 'producer', 'register laboratory-grown goods');
  newRough(a, a.fields.facility, GROWN_HS, true);
}
function split(a) {
  const f = a.fields;
  const parcel = liveInput(a, f.input);
  noPolished([parcel], 'split');
  const outs = f.outputs;
  const total = outs.reduce((s, o) => s + big(o.carats), 0n);
  massBalance(a, 'R-MB-1', parcel.carats, total, outs.length, true);
  const known = parcel.stones;
  if (known !== null && outs.reduce((s, o) => s + big(o.stones ?? 0), 0n) > big(known)) throw ruleFail('R-MB-3', 'split outputs hold more stones than their input');
  consume(a, parcel);
  for (const o of outs) {
    create(a, { pid: o.parcel, kind: parcel.kind, carats: o.carats, stones: 'stones' in o ? o.stones : null, comp: parcel.comp, may: parcel.may, hs: parcel.hs, inputs: [parcel], grown: Boolean(parcel.grown) });
  }
}
function merge(a) {
  const f = a.fields;
  if (f.inputs.length < 2) throw ruleFail('R-MB-1', 'a merge needs at least two parcels');
  const parcels = f.inputs.map((i) => liveInput(a, i));
  noPolished(parcels, 'merged into a parcel');
  const grown = oneNature(parcels, 'merged');
  const total = parcels.reduce((s, p) => s + big(p.carats), 0n);
  const o = f.output;
  massBalance(a, 'R-MB-1', total, o.carats, 1, true);
  let stones = null;
  const counts = parcels.map((p) => p.stones);
  if (counts.every((n) => n !== null)) {
    const sum = counts.reduce((s, n) => s + big(n), 0n);
    if ('stones' in o && big(o.stones) > sum) throw ruleFail('R-MB-3', 'merge output holds more stones than its inputs');
    if (sum > BigInt(Number.MAX_SAFE_INTEGER)) throw new Unsupported('stone count');
    stones = 'stones' in o ? o.stones : Number(sum);
  }
  const comp = mixCompositions(parcels.map((p) => [p.carats, p.comp]));
  const may = parcels.flatMap((p) => p.may);
  const hsCodes = new Set(parcels.map((p) => p.hs));
  for (const p of parcels) consume(a, p);
  create(a, {
    pid: o.parcel, kind: parcels.every((p) => p.kind === 'byproduct') ? 'byproduct' : 'rough', carats: o.carats, stones, comp, may,
    hs: hsCodes.size === 1 ? [...hsCodes][0] : '7102.10', inputs: parcels, grown,
  });
}
function cut(a) {
  requireRole(a.signer, 'cutter', 'cut rough into polished stones');
  const f = a.fields;
  const parcels = f.inputs.map((i) => liveInput(a, i));
  for (const p of parcels) if (p.kind !== 'rough') throw ruleFail('R-MB-6', `only rough parcels can be cut; ${p.id} is ${p.kind}`);
  const grown = oneNature(parcels, 'cut together');
  const totalIn = parcels.reduce((s, p) => s + big(p.carats), 0n);
  const stones = f.stones;
  const byproducts = 'byproducts' in f ? f.byproducts : [];
  const polished = stones.reduce((s, x) => s + big(x.carats), 0n);
  const totalOut = polished + byproducts.reduce((s, x) => s + big(x.carats), 0n);
  massBalance(a, 'R-MB-2', totalIn, totalOut, stones.length + byproducts.length, false);
  const counts = parcels.map((p) => p.stones);
  if (counts.every((n) => n !== null)) {
    const limit = big(STONES_PER_ROUGH) * counts.reduce((s, n) => s + big(n), 0n);
    if (big(stones.length) > limit) throw ruleFail('R-MB-3', 'too many polished stones');
  }
  const permille = (polished * 1000n) / totalIn;
  if (!(YIELD_MIN <= permille && permille <= YIELD_MAX)) a.warn('R-MB-5', 'polished yield outside 15-70%');
  const comp = mixCompositions(parcels.map((p) => [p.carats, p.comp]));
  const may = parcels.flatMap((p) => p.may);
  for (const p of parcels) consume(a, p);
  for (const s of stones) {
    newId(a.state, s.parcel);
    if (('stones' in s ? s.stones : 1) !== 1) throw ruleFail('R-MB-3', `polished stone ${s.parcel} must be a single stone`);
    create(a, { pid: s.parcel, kind: 'polished', carats: s.carats, stones: 1, comp, may, hs: null, inputs: parcels, yieldPermille: Number(permille), grown });
  }
  for (const b of byproducts) {
    create(a, { pid: b.parcel, kind: 'byproduct', carats: b.carats, stones: 'stones' in b ? b.stones : null, comp, may, hs: grown ? GROWN_HS : '7102.21', inputs: parcels, grown });
  }
}
function grade(a) {
  requireRole(a.signer, 'grader', 'grade stones');
  const f = a.fields;
  const stone = liveInput(a, f.input);
  if (stone.kind !== 'polished') throw ruleFail('R-GR-1', `${stone.id} is not a polished stone`);
  if ('carats' in f) {
    massBalance(a, 'R-MB-1', stone.carats, f.carats, 1, false);
    stone.carats = f.carats;
  }
  Object.assign(stone, { head: a.entry.id, time: a.time, report: f.report });
  held(stone, a.signer.country, a.day);
  a.state.putParcel(stone);
}
function sell(a) {
  requireRole(a.signer, 'retailer', 'sell to consumers');
  const stone = liveInput(a, a.fields.input);
  if (stone.kind !== 'polished') throw ruleFail('R-SL-1', `${stone.id} is not a polished stone`);
  Object.assign(stone, { status: 'sold', head: a.entry.id, time: a.time });
  held(stone, a.signer.country, a.day);
  a.state.putParcel(stone);
}

const HANDLERS = {
  'participant.add': participantAdd,
  'participant.revoke': participantRevoke,
  'participant.rotate': participantRotate,
  'kp-status.set': kpStatusSet,
  'param.set': paramSet,
  'governance.set': governanceSet,
  'sanction.designate': (a) => designation(a, 'listed'),
  'sanction.delist': (a) => designation(a, 'delisted'),
  origin,
  grow,
  'certificate.issue': certificateIssue,
  'certificate.confirm': certificateConfirm,
  transfer,
  accept,
  reject,
  cancel,
  split,
  merge,
  cut,
  grade,
  sell,
};

async function applyEntry(state, entry, index, now) {
  if (entry.time > now + MAX_SKEW_MS) throw ruleFail('R-TM-1', 'the entry\'s claimed time is in the future beyond the allowed skew');
  if (entry.time + MAX_AGE_MS < now && entry.type !== 'genesis') throw ruleFail('R-TM-4', 'the entry\'s claimed time is more than 30 days before its append time');
  if (entry.type === 'genesis') { await genesis(state, entry, index, now); return []; }
  const meta = state.meta();
  if (meta === null) throw ruleFail('R-CH-4', 'the first record must be the genesis entry');
  if (entry.ledger !== meta.origin) throw ruleFail('R-EN-2', `entry was signed for ledger ${entry.ledger}`);
  const signer = signerOf(state, entry);
  await verifySigs(state, entry, new Map());
  const warnings = [];
  const a = {
    state, entry, signer, index, now, fields: entry.fields, time: entry.time,
    day: dateOf(now), days: judgedDays(entry.time, now), warn: (rule, message) => warnings.push({ rule, message }),
  };
  await HANDLERS[entry.type](a);
  return warnings;
}

/**
 * Replay bundle records ({index, record}) in log order with non-contiguous indexes.
 * Returns { state, entries: Map(hex id -> {record, entry}), leaves: Map(kind\0key -> {vh, index}) }.
 */
export async function replayRecords(records) {
  const state = new RState();
  const entries = new Map();
  const leaves = new Map();
  let lastTime = 0;
  for (const r of records) {
    const rec = parseRecord(r.record);
    if (rec.index !== r.index) throw ruleFail('R-CH-1', `record stored at ${r.index} says it is record ${rec.index}`);
    if (rec.time < lastTime) throw ruleFail('R-TM-5', 'the log\'s clock never runs backwards');
    const entry = await parseEntry(rec.entryBytes);
    state.writes = [];
    await applyEntry(state, entry, r.index, rec.time);
    const seen = new Set();
    for (const [kind, key] of state.writes) {
      const k = `${kind}\0${key}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const vh = await valueHash(state.get(kind, key));
      const leaf = leaves.get(k);
      if (!leaf || !eq(leaf.vh, vh)) leaves.set(k, { vh, index: r.index });
    }
    entries.set(hex(entry.id), { record: rec, entry });
    lastTime = rec.time;
  }
  return { state, entries, leaves };
}
