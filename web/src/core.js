// kpledger bundle verifier, written from specs/ (not generated from the Python code):
// canonical msgpack (specs/encoding.md), SHA-256 (WebCrypto), the strict Ed25519 rule
// (specs/signatures.md), RFC 6962 proofs (specs/merkle.md), signed notes and checkpoints
// (specs/checkpoint.md) and state-map proofs (specs/state-map.md).
import { Point } from '@noble/ed25519';

export class Failure extends Error {
  constructor(check, message) {
    super(message);
    this.check = check;
  }
}

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });
export const utf8 = (s) => te.encode(s);

export function concat(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
export const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
export function eq(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
export function cmpBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}
async function sha512(data) {
  return new Uint8Array(await crypto.subtle.digest('SHA-512', data));
}

// ---------------------------------------------------------------- canonical msgpack

export class EncodingError extends Error {}
const MAX_DEPTH = 16;

export function encode(value) {
  const out = [];
  const push = (...b) => { for (const x of b) out.push(x); };
  const bytes = (b) => { for (const x of b) out.push(x); };
  function int(n) {
    n = BigInt(n);
    if (n >= 0n) {
      if (n < 128n) push(Number(n));
      else if (n < 256n) push(0xcc, Number(n));
      else if (n < 65536n) push(0xcd, Number(n >> 8n), Number(n & 255n));
      else if (n < 4294967296n) { push(0xce); be(n, 4); }
      else if (n < 18446744073709551616n) { push(0xcf); be(n, 8); }
      else throw new EncodingError('integer out of range');
    } else {
      if (n >= -32n) push(Number(256n + n));
      else if (n >= -128n) { push(0xd0); be(256n + n, 1); }
      else if (n >= -32768n) { push(0xd1); be(65536n + n, 2); }
      else if (n >= -2147483648n) { push(0xd2); be(4294967296n + n, 4); }
      else if (n >= -9223372036854775808n) { push(0xd3); be(18446744073709551616n + n, 8); }
      else throw new EncodingError('integer out of range');
    }
  }
  function be(n, k) { for (let i = k - 1; i >= 0; i--) push(Number((n >> BigInt(8 * i)) & 255n)); }
  function len(n, fix, fixmax, c8, c16, c32) {
    if (fix !== null && n <= fixmax) push(fix + n);
    else if (c8 !== null && n < 256) push(c8, n);
    else if (n < 65536) push(c16, n >> 8, n & 255);
    else { push(c32); be(BigInt(n), 4); }
  }
  function enc(v, depth) {
    if (depth > MAX_DEPTH) throw new EncodingError('too deep');
    if (v === null) push(0xc0);
    else if (v === false) push(0xc2);
    else if (v === true) push(0xc3);
    else if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new EncodingError('float');
      int(v);
    } else if (typeof v === 'bigint') int(v);
    else if (typeof v === 'string') {
      const b = utf8(v);
      len(b.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
      bytes(b);
    } else if (v instanceof Uint8Array) {
      len(v.length, null, 0, 0xc4, 0xc5, 0xc6);
      bytes(v);
    } else if (Array.isArray(v)) {
      len(v.length, 0x90, 15, null, 0xdc, 0xdd);
      for (const x of v) enc(x, depth + 1);
    } else if (v instanceof Map || typeof v === 'object') {
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
      const keyed = entries.map(([k, x]) => [utf8(k), k, x]).sort((a, b) => cmpBytes(a[0], b[0]));
      len(keyed.length, 0x80, 15, null, 0xde, 0xdf);
      for (const [kb, , x] of keyed) {
        len(kb.length, 0xa0, 31, 0xd9, 0xda, 0xdb);
        bytes(kb);
        enc(x, depth + 1);
      }
    } else throw new EncodingError('not a kpledger value');
  }
  enc(value, 0);
  return Uint8Array.from(out);
}

/** Decode one canonical value (maps become plain objects with a null prototype). */
export function decode(data, maxSize = 1 << 20) {
  if (data.length > maxSize) throw new EncodingError('input is larger than the limit');
  let pos = 0;
  const need = (n) => { if (pos + n > data.length) throw new EncodingError('truncated'); };
  const u = (k) => {
    need(k);
    let n = 0n;
    for (let i = 0; i < k; i++) n = (n << 8n) | BigInt(data[pos++]);
    return n;
  };
  const num = (n) => (n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);
  function str(n) {
    need(n);
    const s = td.decode(data.subarray(pos, pos + n));
    pos += n;
    return s;
  }
  function bin(n) { need(n); const b = data.slice(pos, pos + n); pos += n; return b; }
  function arr(n, d) { if (n > data.length) throw new EncodingError('length'); const a = []; for (let i = 0; i < n; i++) a.push(val(d + 1)); return a; }
  function map(n, d) {
    if (n > data.length) throw new EncodingError('length');
    const m = Object.create(null);
    for (let i = 0; i < n; i++) {
      const k = val(d + 1);
      if (typeof k !== 'string') throw new EncodingError('map key is not text');
      m[k] = val(d + 1);
    }
    return m;
  }
  function val(d) {
    if (d > MAX_DEPTH) throw new EncodingError('too deep');
    need(1);
    const b = data[pos++];
    if (b < 0x80) return b;
    if (b >= 0xe0) return b - 256;
    if (b >= 0xa0 && b <= 0xbf) return str(b - 0xa0);
    if (b >= 0x90 && b <= 0x9f) return arr(b - 0x90, d);
    if (b >= 0x80 && b <= 0x8f) return map(b - 0x80, d);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xcc: return num(u(1));
      case 0xcd: return num(u(2));
      case 0xce: return num(u(4));
      case 0xcf: return num(u(8));
      case 0xd0: { const n = u(1); return num(n >= 128n ? n - 256n : n); }
      case 0xd1: { const n = u(2); return num(n >= 32768n ? n - 65536n : n); }
      case 0xd2: { const n = u(4); return num(n >= 2147483648n ? n - 4294967296n : n); }
      case 0xd3: { const n = u(8); return num(n >= 9223372036854775808n ? n - 18446744073709551616n : n); }
      case 0xd9: return str(Number(u(1)));
      case 0xda: return str(Number(u(2)));
      case 0xdb: return str(Number(u(4)));
      case 0xc4: return bin(Number(u(1)));
      case 0xc5: return bin(Number(u(2)));
      case 0xc6: return bin(Number(u(4)));
      case 0xdc: return arr(Number(u(2)), d);
      case 0xdd: return arr(Number(u(4)), d);
      case 0xde: return map(Number(u(2)), d);
      case 0xdf: return map(Number(u(4)), d);
      default: throw new EncodingError(`type byte 0x${b.toString(16)} is not allowed`);
    }
  }
  let value;
  try {
    value = val(0);
  } catch (e) {
    if (e instanceof EncodingError) throw e;
    throw new EncodingError(String(e && e.message));
  }
  if (pos !== data.length) throw new EncodingError('trailing bytes after the encoded object');
  if (!eq(encode(value), data)) throw new EncodingError('not the canonical encoding');
  return value;
}

export const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array);
export const isInt = (v) => (typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint';
export const isBytes = (v) => v instanceof Uint8Array;

// ---------------------------------------------------------------- base64

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
export function b64encode(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + (i + 2 < b.length ? B64[n & 63] : '=');
  }
  return s;
}
/** Strict standard base64: padded, and re-encoding gives the same text; null otherwise. */
export function b64decode(s) {
  if (s.length % 4 !== 0) return null;
  const out = [];
  for (let i = 0; i < s.length; i += 4) {
    const c = [0, 1, 2, 3].map((k) => s[i + k]);
    const v = c.map((ch) => (ch === '=' ? 0 : B64.indexOf(ch)));
    if (v.some((x) => x < 0)) return null;
    const n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push((n >> 16) & 255);
    if (c[2] !== '=') out.push((n >> 8) & 255);
    if (c[3] !== '=') out.push(n & 255);
  }
  const b = Uint8Array.from(out);
  return b64encode(b) === s ? b : null;
}

// ---------------------------------------------------------------- Ed25519 (specs/signatures.md)

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const leInt = (b) => { let n = 0n; for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]); return n; };
const SMALL_Y = new Set([0n, 1n, P - 1n,
  leInt(Uint8Array.from([0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05])),
  leInt(Uint8Array.from([0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a]))]);

function pointCheck(b, what) {
  const y = leInt(b) & ((1n << 255n) - 1n);
  const sign = b[31] >> 7;
  if (y >= P) return `non-canonical encoding of ${what}`;
  if ((y === 1n || y === P - 1n) && sign) return `non-canonical encoding of ${what}`;
  if (SMALL_Y.has(y)) return `${what} is a small-order point`;
  return null;
}

export function checkPublicKey(pub) {
  if (pub.length !== 32) return `public key must be 32 bytes, got ${pub.length}`;
  const why = pointCheck(pub, 'A');
  if (why) return why;
  try { Point.fromBytes(pub); } catch { return 'A is not a point on the curve'; }
  return null;
}

/** The one Ed25519 rule; returns null when valid, else the reason. */
export async function ed25519Verify(pub, msg, sig) {
  if (pub.length !== 32) return `public key must be 32 bytes, got ${pub.length}`;
  if (sig.length !== 64) return `signature must be 64 bytes, got ${sig.length}`;
  const S = leInt(sig.subarray(32));
  if (S >= L) return 'S is not below L';
  const r = sig.subarray(0, 32);
  let why = pointCheck(pub, 'A') || pointCheck(r, 'R');
  if (why) return why;
  let A;
  try { A = Point.fromBytes(pub); } catch { return 'signature does not verify'; }
  const k = leInt(await sha512(concat(r, pub, msg))) % L;
  const sb = S === 0n ? Point.ZERO : Point.BASE.multiplyUnsafe(S);
  const ka = k === 0n ? Point.ZERO : A.multiplyUnsafe(k);
  return eq(sb.subtract(ka).toBytes(), r) ? null : 'signature does not verify';
}

// ---------------------------------------------------------------- RFC 6962 (specs/merkle.md)

export const leafHash = (d) => sha256(concat(Uint8Array.of(0), d));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));
const bitLength = (n) => (n === 0 ? 0 : Math.floor(Math.log2(n)) + 1);
const popcount = (n) => { let c = 0; while (n) { c += n & 1; n = Math.floor(n / 2); } return c; };

export async function verifyInclusion(leaf, index, size, proof, root) {
  if (index >= size) throw new Failure('inclusion', 'index not in tree');
  const inner = bitLength(Number(BigInt(index) ^ BigInt(size - 1)));
  const border = popcount(Math.floor(index / 2 ** inner));
  if (proof.length !== inner + border) throw new Failure('inclusion', `wrong proof length: expected ${inner + border}, got ${proof.length}`);
  let fn = BigInt(index), sn = BigInt(size - 1), r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new Failure('inclusion', 'proof too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      if ((fn & 1n) === 0n) while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
    } else r = await nodeHash(r, p);
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n || !eq(r, root)) throw new Failure('inclusion', 'calculated root differs');
}

export async function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  if (oldSize > newSize) throw new Error('old size above new size');
  if (oldSize === newSize) {
    if (proof.length || !eq(oldRoot, newRoot)) throw new Error('same size, another root');
    return;
  }
  if (oldSize === 0) {
    if (proof.length) throw new Error('non-empty proof');
    if (!eq(oldRoot, await sha256(new Uint8Array(0)))) throw new Error('a tree of size 0 has the empty root');
    return;
  }
  let shift = 0;
  while (((oldSize >> shift) & 1) === 0) shift++;
  const o = BigInt(oldSize - 1) >> BigInt(shift), n = BigInt(newSize - 1) >> BigInt(shift);
  const inner = bitLength(Number(o ^ n));
  const border = popcount(Number(o >> BigInt(inner)));
  const pow2 = (oldSize & (oldSize - 1)) === 0;
  const want = inner + border + (pow2 ? 0 : 1);
  if (proof.length !== want) throw new Error(`wrong proof length: expected ${want}, got ${proof.length}`);
  const path = pow2 ? [oldRoot, ...proof] : [...proof];
  let fn = BigInt(oldSize - 1), sn = BigInt(newSize - 1);
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new Error('proof too long');
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr); sr = await nodeHash(c, sr);
      if ((fn & 1n) === 0n) while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
    } else sr = await nodeHash(sr, c);
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n || !eq(fr, oldRoot) || !eq(sr, newRoot)) throw new Error('roots differ');
}

// ---------------------------------------------------------------- notes (specs/checkpoint.md)

const WHITE = new Set('\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000');
const CONTROL = /[\x00-\x09\x0b-\x1f]/;
const validName = (n) => n !== '' && !n.includes('+') && ![...n].some((c) => WHITE.has(c)) && !CONTROL.test(n);

export async function keyId(name, type, pub) {
  const d = await sha256(concat(utf8(name), Uint8Array.of(10, type), pub));
  return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
}

export async function parseVkey(vkey) {
  if (typeof vkey !== 'string' || vkey.length > 1024) throw new Error('a vkey must be text of at most 1024 characters');
  const i = vkey.indexOf('+'); const j = i < 0 ? -1 : vkey.indexOf('+', i + 1);
  if (j < 0) throw new Error('malformed vkey: expected name+keyid+key');
  const name = vkey.slice(0, i), hexId = vkey.slice(i + 1, j), raw = b64decode(vkey.slice(j + 1));
  if (!validName(name)) throw new Error('malformed vkey: invalid key name');
  if (!/^[0-9a-f]{8}$/.test(hexId)) throw new Error('malformed vkey: key ID must be 8 lowercase hex digits');
  if (!raw || raw.length < 1) throw new Error('malformed vkey: key is not canonical base64');
  const type = raw[0], pub = raw.slice(1);
  if (type !== 1 && type !== 4) throw new Error('unsupported vkey signature type');
  if (pub.length !== 32) throw new Error('vkey Ed25519 key must be 32 bytes');
  const why = checkPublicKey(pub);
  if (why) throw new Error(`vkey holds an unusable key: ${why}`);
  const id = await keyId(name, type, pub);
  if (parseInt(hexId, 16) !== id) throw new Error('vkey key ID does not match its key');
  return { name, id, pub, type };
}

export function parseNote(text) {
  if (typeof text !== 'string') throw new Error('note must be text');
  if (utf8(text).length > (1 << 20)) throw new Error('note too large');
  if (CONTROL.test(text)) throw new Error('note contains a control character');
  const split = text.lastIndexOf('\n\n');
  if (split < 0) throw new Error('malformed note: no blank line before the signatures');
  const body = text.slice(0, split + 1), block = text.slice(split + 2);
  if (!block.endsWith('\n')) throw new Error('malformed note: the signature block must end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > 100) throw new Error('too many signatures');
  const sigs = lines.map((line) => {
    if (!line.startsWith('\u2014 ')) throw new Error('malformed note: a signature line must start with an em dash and space');
    const rest = line.slice(2); const sp = rest.indexOf(' ');
    const name = sp < 0 ? rest : rest.slice(0, sp);
    if (sp < 0 || !validName(name)) throw new Error('malformed note signature: invalid key name');
    const raw = b64decode(rest.slice(sp + 1));
    if (!raw || raw.length < 5) throw new Error('malformed note signature: bad base64 or too short');
    return { name, id: ((raw[0] << 24) | (raw[1] << 16) | (raw[2] << 8) | raw[3]) >>> 0, sig: raw.slice(4) };
  });
  return { text: body, sigs };
}

export async function verifyNote(text, verifier) {
  if (verifier.type !== 1) throw new Error('a log or note-signing key (type 0x01) is needed');
  const note = parseNote(text);
  let ok = 0;
  for (const s of note.sigs) {
    if (s.name !== verifier.name || s.id !== verifier.id) continue;
    const why = await ed25519Verify(verifier.pub, utf8(note.text), s.sig);
    if (why) throw new Error(`note signature by ${s.name} is invalid: ${why}`);
    ok++;
  }
  if (!ok) throw new Error('note is not signed by a known key');
  return note;
}

export function parseCheckpoint(body) {
  if (!body.endsWith('\n')) throw new Error('malformed checkpoint');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw new Error('malformed checkpoint: expected origin, size and root lines');
  const [origin, sizeLine, rootLine, ...ext] = lines;
  if (origin === '') throw new Error('malformed checkpoint: empty origin');
  if (!/^(0|[1-9][0-9]{0,18})$/.test(sizeLine) || BigInt(sizeLine) > 2n ** 63n - 1n) throw new Error('bad checkpoint size');
  const root = rootLine.length === 44 ? b64decode(rootLine) : null;
  if (!root || root.length !== 32) throw new Error('malformed checkpoint: root');
  if (ext.some((l) => l === '')) throw new Error('malformed checkpoint: empty extension line');
  return { origin, size: Number(sizeLine), root, ext };
}

export const MAP_PREFIX = 'kpledger/v1 state-map ';
export async function openCheckpoint(text, verifier) {
  const note = await verifyNote(text, verifier);
  const cp = parseCheckpoint(note.text);
  if (cp.origin !== verifier.name) throw new Error('checkpoint origin is not the signing key\'s name');
  const line = cp.ext.length === 1 ? cp.ext[0] : '';
  const raw = line.startsWith(MAP_PREFIX) && line.length === MAP_PREFIX.length + 44 ? b64decode(line.slice(MAP_PREFIX.length)) : null;
  if (!raw || raw.length !== 32) throw new Error('a kpledger checkpoint has exactly one extension line, the state-map root');
  cp.mapRoot = raw;
  return { cp, note };
}

/** Known cosigners' timestamps (name -> POSIX seconds); throws for a bad known line. */
export async function verifyCosignatures(note, cosigners) {
  const out = new Map();
  for (const s of note.sigs) {
    const w = cosigners.find((c) => c.name === s.name && c.id === s.id);
    if (!w) continue;
    if (s.sig.length !== 72) throw new Error(`cosignature by ${s.name} must be 72 bytes`);
    const ts = leInt(s.sig.slice(0, 8).reverse());
    if (ts > 2n ** 63n - 1n) throw new Error('timestamp above 2^63 - 1');
    const msg = utf8(`cosignature/v1\ntime ${ts}\n${note.text}`);
    const why = await ed25519Verify(w.pub, msg, s.sig.subarray(8));
    if (why) throw new Error(`cosignature by ${s.name} is invalid: ${why}`);
    const t = Number(ts);
    out.set(s.name, Math.max(t, out.get(s.name) ?? t));
  }
  return out;
}

// ---------------------------------------------------------------- state map (specs/state-map.md)

export const keyHash = (kind, key) => sha256(concat(utf8(kind), Uint8Array.of(0), utf8(key)));
export const valueHash = (v) => sha256(encode(v));
function u64be(n) { const b = new Uint8Array(8); let x = BigInt(n); for (let i = 7; i >= 0; i--) { b[i] = Number(x & 255n); x >>= 8n; } return b; }
export const mapLeafHash = (kh, vh, index) => sha256(concat(Uint8Array.of(2), kh, vh, u64be(index)));
const mapNode = (l, r) => sha256(concat(Uint8Array.of(3), l, r));
const bit = (kh, d) => (kh[d >> 3] >> (7 - (d & 7))) & 1;
const EMPTY = new Uint8Array(32);

export function parseMapProof(v) {
  const f = ['index', 'key', 'kind', 'other', 'path', 'value'];
  if (!isMap(v) || Object.keys(v).sort().join() !== f.join()) throw new Error('map proof: expected exactly the fields');
  const { kind, key, value, index, other, path } = v;
  if (typeof kind !== 'string' || typeof key !== 'string' || !kind || !key) throw new Error('map proof: kind and key');
  if (kind.includes('\0') || key.includes('\0')) throw new Error('map proof: NUL');
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
    if (!(typeof index === 'bigint' && index >= 0n && index < 2n ** 63n)) throw new Error('map proof: index');
  }
  if (!isBytes(value) || (value.length !== 0 && value.length !== 32)) throw new Error('map proof: value');
  if (!isBytes(other) || (other.length !== 0 && other.length !== 72)) throw new Error('map proof: other');
  if (value.length && other.length) throw new Error('map proof: a present key has no other leaf');
  if (!value.length && index !== 0) throw new Error('map proof: an absent key has index 0');
  if (!Array.isArray(path) || path.length > 256) throw new Error('map proof: path');
  if (!path.every((h) => isBytes(h) && (h.length === 0 || h.length === 32))) throw new Error('map proof: path hashes');
  if (path.some((h) => h.length === 32 && eq(h, EMPTY))) throw new Error('map proof: empty subtree as zeros');
  return { kind, key, value, index: Number(index), other, path, present: value.length === 32 };
}

export async function mapRootFromProof(p) {
  const kh = await keyHash(p.kind, p.key);
  const depth = p.path.length;
  let acc;
  if (p.present) acc = await mapLeafHash(kh, p.value, p.index);
  else if (p.other.length) {
    const okh = p.other.subarray(0, 32);
    if (eq(okh, kh)) throw new Error('other is the key itself');
    let common = 0;
    while (common < 256 && bit(okh, common) === bit(kh, common)) common++;
    if (common < depth) throw new Error('the other leaf is not on the key\'s path');
    acc = await sha256(concat(Uint8Array.of(2), p.other));
  } else acc = EMPTY;
  if (depth && p.path[0].length === 0) throw new Error('not canonical');
  for (let i = 0; i < depth; i++) {
    const d = depth - 1 - i;
    const s = p.path[i].length ? p.path[i] : EMPTY;
    acc = bit(kh, d) ? await mapNode(s, acc) : await mapNode(acc, s);
  }
  return acc;
}
