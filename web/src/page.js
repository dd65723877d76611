// The page: drop a .kpproof (and a vkey), get the verdict.
const $ = (id) => document.getElementById(id);
let bundleBytes = null;
async function run() {
  const out = $('verdict');
  if (!bundleBytes) { out.textContent = 'Drop a .kpproof bundle.'; return; }
  const vkey = $('vkey').value.trim();
  if (!vkey) { out.textContent = 'Give the operator\'s verifier key (vkey).'; return; }
  try {
    const r = await verifyBundle(bundleBytes, vkey);
    out.dataset.verdict = r.verdict;
    out.dataset.failure = r.failure ?? '';
    out.textContent = r.verdict === 'invalid'
      ? `INVALID (${r.failure}): ${r.message}`
      : `Checkpoint of ${r.checkpoint.origin} (size ${r.checkpoint.size}) and the inclusion of ${r.records} records verified for ${r.item}. ${r.message}.`;
  } catch (e) {
    out.dataset.verdict = 'error';
    out.textContent = `Cannot check: ${e.message}`;
  }
}
async function load(file) { bundleBytes = new Uint8Array(await file.arrayBuffer()); $('name').textContent = file.name; await run(); }
window.addEventListener('DOMContentLoaded', () => {
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => e.preventDefault());
  drop.addEventListener('drop', (e) => { e.preventDefault(); if (e.dataTransfer.files[0]) load(e.dataTransfer.files[0]); });
  $('file').addEventListener('change', (e) => { if (e.target.files[0]) load(e.target.files[0]); });
  $('vkey').addEventListener('change', run);
});
globalThis.kpVerify = async (bytes, vkey) => verifyBundle(bytes, vkey);
