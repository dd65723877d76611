// A buyer's policy (specs/policy.md): the c2sp.org/tlog-policy lines kpledger reads plus
// deny-origin, deny-custody, deny-listed, pack, grandfather-before and require; the rule
// packs on Russian diamonds (§5); the journey steps a policy is judged on; quarantine
// (specs/rules.md §3.3). Written from the specs.
import { parseVkey } from './core.js';
import { checkDate, dateOf, dateStartMs, listed, byStr } from './rules.js';

export class PolicyParseError extends Error {}

const POLICY_KEYWORDS = ['log', 'witness', 'group', 'quorum', 'deny-origin', 'deny-custody', 'deny-listed', 'pack', 'grandfather-before', 'require'];
const REQUIREMENTS = ['kp-certified', 'warranty', 'import-confirmed', 'natural'];
export const PACK_NAMES = ['eu-russia', 'us-russia'];
const RE_LIST_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$/;
const RE_CC = /^[A-Z]{2}$/;
const RE_K = /^[1-9][0-9]{0,3}$/;

function emptyPolicy() {
  return {
    logs: [], witnesses: [], groups: [], quorum: 'none', denyOrigins: new Set(), requireKp: false,
    requireWarranty: false, requireImportConfirmed: false, requireNatural: false, packs: [],
    denyCustody: new Set(), denyListed: new Set(), grandfatherBefore: null,
  };
}

/** The policy of a rule pack alone (`--policy eu-russia`). */
export function namedPolicy(name) {
  if (!PACK_NAMES.includes(name)) throw new PolicyParseError(`unknown rule pack ${name}`);
  return { ...emptyPolicy(), packs: [name] };
}

/** Parse the text of a policy file (specs/policy.md §2-§4); throws PolicyParseError. */
export async function parsePolicy(source) {
  if (new TextEncoder().encode(source).length > 64 << 10) throw new PolicyParseError('policy too large');
  const p = emptyPolicy();
  const names = new Set(), keys = new Set(), cosignerNames = new Set(), require = new Set();
  let quorum = null;
  const bad = (why) => { throw new PolicyParseError(why); };
  const vkey = async (text, type, what) => {
    let v;
    try { v = await parseVkey(text); } catch (e) { bad(`bad ${what} vkey: ${e.message}`); }
    if (v.type !== type) bad(`a ${what} vkey must have signature type ${type}`);
    const k = Array.from(v.pub).join(',');
    if (keys.has(k)) bad(`duplicate key ${v.name}`);
    keys.add(k);
    return v;
  };
  const newName = (n) => { if (n === 'none') bad('none is reserved'); if (names.has(n)) bad(`${n} is already defined`); names.add(n); };
  const countries = (t) => { const cs = t.split(','); for (const c of cs) if (!RE_CC.test(c)) bad(`${c} is not a country code`); return cs; };
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    try {
      if (/[\x00-\x08\x0b-\x1f\x7f]/.test(line)) bad('control characters other than tab are not allowed');
      const tokens = line.replace(/^[ \t]+|[ \t]+$/g, '').split(/[ \t]+/);
      if (tokens[0] === '' || tokens[0].startsWith('#')) continue;
      const [kw, ...args] = tokens;
      if (kw === 'log' && (args.length === 1 || args.length === 2)) {
        p.logs.push({ verifier: await vkey(args[0], 1, 'log'), url: args[1] ?? null });
      } else if (kw === 'witness' && (args.length === 2 || args.length === 3)) {
        newName(args[0]);
        const v = await vkey(args[1], 4, 'witness');
        if (cosignerNames.has(v.name)) bad(`two witnesses share the key name ${v.name}`);
        cosignerNames.add(v.name);
        p.witnesses.push({ name: args[0], verifier: v });
      } else if (kw === 'group' && args.length >= 3) {
        const [name, k, ...members] = args;
        for (const m of members) if (!names.has(m)) bad(`group member ${m} is not defined above`);
        if (new Set(members).size !== members.length) bad(`group ${name} lists a member twice`);
        let threshold;
        if (k === 'all') threshold = members.length;
        else if (k === 'any') threshold = 1;
        else if (RE_K.test(k) && Number(k) <= members.length) threshold = Number(k);
        else bad('bad group threshold');
        newName(name);
        p.groups.push({ name, threshold, members });
      } else if (kw === 'quorum' && args.length === 1) {
        if (quorum !== null) bad('more than one quorum line');
        if (args[0] !== 'none' && !names.has(args[0])) bad(`quorum ${args[0]} is not defined above`);
        quorum = args[0];
      } else if (kw === 'deny-origin' && args.length === 1) {
        for (const c of countries(args[0])) p.denyOrigins.add(c);
      } else if (kw === 'deny-custody' && args.length === 1) {
        for (const c of countries(args[0])) p.denyCustody.add(c);
      } else if (kw === 'deny-listed' && args.length === 1) {
        if (!RE_LIST_ID.test(args[0])) bad(`${args[0]} is not a sanctions list id`);
        p.denyListed.add(args[0]);
      } else if (kw === 'pack' && args.length === 1) {
        if (!PACK_NAMES.includes(args[0])) bad(`unknown rule pack ${args[0]}`);
        if (!p.packs.includes(args[0])) p.packs.push(args[0]);
      } else if (kw === 'grandfather-before' && args.length === 1) {
        if (p.grandfatherBefore !== null) bad('more than one grandfather-before line');
        try { checkDate(args[0], 'grandfather-before'); } catch { bad(`${args[0]} is not a date`); }
        p.grandfatherBefore = args[0];
      } else if (kw === 'require' && args.length === 1) {
        if (!REQUIREMENTS.includes(args[0])) bad(`unknown requirement ${args[0]}`);
        require.add(args[0]);
      } else if (POLICY_KEYWORDS.includes(kw)) bad(`wrong number of arguments for ${kw}`);
      else bad(`unknown keyword ${kw}`);
    } catch (e) {
      if (e instanceof PolicyParseError) throw new PolicyParseError(`policy line ${i + 1}: ${e.message}`);
      throw e;
    }
  }
  if (quorum === null) bad('policy has no quorum line');
  p.quorum = quorum;
  p.requireKp = require.has('kp-certified');
  p.requireWarranty = require.has('warranty');
  p.requireImportConfirmed = require.has('import-confirmed');
  p.requireNatural = require.has('natural');
  return p;
}

/** Whether the verified cosigners (key names) meet the policy's quorum (§3.4). */
export function quorumMet(policy, cosignerNames) {
  if (policy.quorum === 'none') return true;
  const witnessed = new Map();
  for (const w of policy.witnesses) witnessed.set(w.name, cosignerNames.has(w.verifier.name));
  for (const g of policy.groups) witnessed.set(g.name, g.members.filter((m) => witnessed.get(m)).length >= g.threshold);
  if (!witnessed.has(policy.quorum)) throw new PolicyParseError(`quorum ${policy.quorum} is not defined`);
  return witnessed.get(policy.quorum);
}

// ---------------------------------------------------------------- journey and quarantine

/** The steps of an item's journey (what a policy judges): one per shown entry, in log order. */
export function narrate(shown, state) {
  const steps = shown.map(({ record, entry }) => {
    const info = state.key(entry.signer);
    const actor = info !== null ? info.name : Array.from(entry.signer.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join('');
    const party = state.party(actor);
    const step = {
      index: record.index, appended: record.time, type: entry.type, actor,
      country: party !== null ? party.country : '--', counterparty: null, warranty: null,
    };
    const f = entry.fields;
    if (entry.type === 'transfer') {
      step.counterparty = f.to;
      step.warranty = 'warranty' in f ? f.warranty : null;
    } else if (['accept', 'reject', 'cancel'].includes(entry.type)) {
      const offer = state.transfer(f.transfer);
      step.counterparty = offer !== null ? offer.from ?? null : null;
    }
    return step;
  });
  return steps.sort((a, b) => a.index - b.index);
}

/** Void entries (R-ID-2) among the shown entries, in log order. */
export function quarantine(shown, state) {
  const out = [];
  for (const { record, entry } of shown) {
    const when = Math.max(record.time, entry.time);
    for (const sig of entry.sigs) {
      const info = state.key(sig.kid);
      if (info === null || !('compromised' in info)) continue;
      if (when >= info.compromised) { out.push({ index: record.index, type: entry.type, signer: info.name, since: info.compromised }); break; }
    }
  }
  return out.sort((a, b) => a.index - b.index);
}

// ---------------------------------------------------------------- rule packs (specs/policy.md §5)

const RUSSIA = 'RU';
const INDUSTRIAL_HS = '7102.21';
const PACKS = {
  'eu-russia': { name: 'eu-russia', direct: '2024-01-01', custody: '2024-01-01', thresholds: [['2024-03-01', 100], ['2024-09-01', 50]], roughOnly: false },
  'us-russia': { name: 'us-russia', direct: '2022-03-11', custody: '2024-03-01', thresholds: [['2024-03-01', 100], ['2024-09-01', 50]], roughOnly: true },
};
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

function judgePack(pack, facts, asOf, out) {
  if (facts.hs === INDUSTRIAL_HS) return;
  const custody = has(facts.path, RUSSIA) ? facts.path[RUSSIA] : null;
  const covered = !pack.roughOnly || facts.kind !== 'polished';
  if (custody !== null && covered && asOf >= pack.custody && custody[1] >= pack.custody) {
    out.russian.push(['R-SA-2', `${pack.name}: held in or exported from Russia until ${custody[1]}`]);
    return;
  }
  if (!facts.may.includes(RUSSIA) || asOf < pack.direct) return;
  const cutInRussia = facts.journey.some((s) => s.type === 'cut' && s.country === RUSSIA);
  if (facts.kind !== 'polished' || cutInRussia) {
    out.russian.push(['R-SA-1', `${pack.name}: ${facts.kind !== 'polished' ? 'rough of Russian origin' : 'a stone cut in Russia'} is denied from ${pack.direct}`]);
    return;
  }
  for (const [start, points] of [...pack.thresholds].sort((a, b) => a[1] - b[1])) {
    if (asOf >= start && facts.carats >= points) {
      out.russian.push(['R-SA-1', `${pack.name}: a stone that may contain Russian-mined diamonds is denied from ${start}`]);
      return;
    }
  }
}

export function judge(facts, { asOf, packs, denyCustody, denyListed, state }) {
  const out = { failures: [], russian: [] };
  for (const name of packs) judgePack(PACKS[name], facts, asOf, out);
  for (const cc of [...denyCustody].sort(byStr)) {
    if (has(facts.path, cc)) {
      const span = facts.path[cc];
      (cc === RUSSIA ? out.russian : out.failures).push(['R-SA-2', `held in or exported from ${cc} (${span[0]} to ${span[1]}), a denied country of custody`]);
    }
  }
  const lists = [...denyListed].sort(byStr);
  if (lists.length) {
    for (const step of facts.journey) {
      const day = dateOf(step.appended);
      for (const id of lists) {
        if (listed(state.party(step.actor), id, day)) out.failures.push(['R-SA-4', `${step.actor} acted on the goods on ${day} while designated on sanctions list ${id}`]);
      }
    }
  }
  return out;
}

export function leavesRussiaAt(journey) {
  const inRu = journey.filter((s) => s.country === RUSSIA).map((s) => s.index);
  if (!inRu.length) return null;
  const last = Math.max(...inRu);
  const after = journey.filter((s) => s.index > last && s.country !== RUSSIA).map((s) => s.index);
  return after.length ? Math.min(...after) : null;
}

/** R-SA-3: the goods were outside Russia in a log policy witnesses cosigned before the date. */
export function grandfathered(journey, timeEvidence, policy, before) {
  const left = leavesRussiaAt(journey);
  if (left === null) return false;
  const limit = Math.floor(dateStartMs(before) / 1000);
  const bySize = new Map();
  for (const pr of timeEvidence) {
    if (pr.size > left && pr.timestamp < limit) {
      if (!bySize.has(pr.size)) bySize.set(pr.size, new Map());
      bySize.get(pr.size).set(pr.witness, pr.timestamp);
    }
  }
  for (const size of [...bySize.keys()].sort((a, b) => a - b)) {
    const stamps = bySize.get(size);
    if (policy.quorum !== 'none' && !quorumMet(policy, new Set(stamps.keys()))) continue;
    return true;
  }
  return false;
}
