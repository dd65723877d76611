// The page: drop a .kpproof (and a vkey), get the verdict.
const $ = (id) => document.getElementById(id);
let bundleBytes = null;
// A report's QR code opens this page as URL#sha256=HEX: the bundle the buyer should drop.
const expected = (/(?:^#|&)sha256=([0-9a-f]{64})(?:&|$)/.exec(location.hash.toLowerCase()) ?? [])[1] ?? null;
async function showDigest() {
  const el = $('expected');
  if (!expected) return;
  if (!bundleBytes) { el.textContent = `Expecting the bundle with SHA-256 ${expected} (from the report's QR code).`; return; }
  const got = hex(await sha256(bundleBytes));
  el.dataset.match = String(got === expected);
  el.textContent = got === expected
    ? `This is the bundle of the report's QR code (SHA-256 ${got}).`
    : `This is NOT the bundle of the report's QR code: its SHA-256 is ${got}, the QR code names ${expected}.`;
}
const ct = (points) => `${Math.floor(points / 100)}.${String(points % 100).padStart(2, '0')} ct`;
/** The journey, origin composition and custody path, in plain lines. */
function describe(d) {
  const shares = Object.entries(d.composition).sort((a, b) => b[1] - a[1]).map(([cc, ppm]) => `${cc} ${(ppm / 10000).toFixed(2)}%`);
  const path = Object.entries(d.path).sort((a, b) => (a[1][0] < b[1][0] ? -1 : 1)).map(([cc, span]) => `${cc} ${span[0]}${span[1] !== span[0] ? ` to ${span[1]}` : ''}`);
  const lines = [
    `${d.kind}, ${ct(d.carats)}, ${d.status}, held by ${d.holder}`,
    `Nature: ${d.grown ? 'LABORATORY-GROWN' : 'natural (mined)'}`,
    `Origin composition: ${shares.join(' · ') || 'none'}`,
    `May contain diamonds from: ${d.may.join(', ') || 'none'}`,
    `Custody path (held in or exported from): ${path.join(', ') || 'none recorded'}`,
    `KP certificates: ${d.certificates.join(', ') || 'none'}`,
    'Journey:',
    ...d.steps.map((st) => `  ${st.date}  #${st.index}  ${st.actor} (${st.country}): ${st.type}${st.counterparty ? ` with ${st.counterparty}` : ''}`),
  ];
  return lines.join('\n');
}
async function run() {
  const out = $('verdict');
  $('details').textContent = '';
  if (!bundleBytes) { out.textContent = 'Drop a .kpproof bundle.'; return; }
  const vkey = $('vkey').value.trim();
  if (!vkey) { out.textContent = 'Give the operator\'s verifier key (vkey).'; return; }
  const policy = $('policy').value.trim() ? $('policy').value : null;
  const asOf = $('asof').value.trim() || null;
  try {
    const r = await verifyBundle(bundleBytes, vkey, policy, asOf);
    out.dataset.verdict = r.verdict;
    out.dataset.failure = r.failure ?? '';
    if (r.verdict === 'invalid') out.textContent = `INVALID (${r.failure}): ${r.message}`;
    else if (r.verdict === 'unchecked') out.textContent = `NOT CHECKED: ${r.message}`;
    else {
      const head = `${r.item}: ${r.records} records of ${r.checkpoint.origin} verified against checkpoint ${r.checkpoint.size}; latest state as of that checkpoint (record ${r.latest}); judged on ${r.asOf}.`;
      out.textContent = r.verdict === 'valid' ? `VALID. ${head}` : `REJECTED (${r.failure}). ${head}\n${r.message}`;
      $('details').textContent = describe(r.details);
    }
  } catch (e) {
    out.dataset.verdict = 'error';
    out.textContent = `Cannot check: ${e.message}`;
  }
}
async function load(file) { bundleBytes = new Uint8Array(await file.arrayBuffer()); $('name').textContent = file.name; await showDigest(); await run(); }
window.addEventListener('DOMContentLoaded', () => {
  showDigest();
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => { e.preventDefault(); if (e.dataTransfer.files[0]) load(e.dataTransfer.files[0]); });
  $('file').addEventListener('change', (e) => { if (e.target.files[0]) load(e.target.files[0]); });
  $('vkey').addEventListener('change', run);
  $('policy').addEventListener('change', run);
  $('asof').addEventListener('change', run);
});
globalThis.kpVerify = async (bytes, vkey, policy = null, asOf = null) => verifyBundle(bytes, vkey, policy, asOf);
