// The glue of the buyer's HTML report (cli/report/templates/report.html.j2): re-check the
// embedded bundle in this browser and say so in #browser-check, apart from the issuer's
// verdict. Without scripts the page keeps its static "not re-checked" text.
async function recheck() {
  const box = document.getElementById('browser-check');
  const proof = document.getElementById('kp-proof');
  if (!box || !proof) return;
  const text = box.querySelector('.browser-check-text');
  const say = (state, head, detail) => {
    box.dataset.state = state;
    box.className = `browser-check ${state}`;
    text.textContent = '';
    const strong = document.createElement('strong');
    strong.textContent = head;
    text.append(strong, ` ${detail}`);
  };
  const d = proof.dataset;
  say('checking', 'Checking in this browser…', '');
  let bytes;
  try {
    bytes = Uint8Array.from(atob(d.bundle.replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  } catch (e) {
    say('error', 'Not re-checked in this browser:', `the embedded bundle is not base64 (${e.message}).`);
    return;
  }
  try {
    const start = performance.now();
    const r = await verifyBundle(bytes, d.vkey, d.policy || null, d.asOf || null);
    const ms = performance.now() - start;
    box.dataset.verdict = r.verdict;
    box.dataset.failure = r.failure ?? '';
    box.dataset.ms = ms.toFixed(1);
    const digest = hex(await sha256(bytes));
    const same = digest === d.digest
      ? 'the fingerprint printed below'
      : `SHA-256 ${digest}, NOT the fingerprint printed below`;
    const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
    const differs = ['valid', 'rejected'].includes(d.issuer) && r.verdict !== d.issuer ? ' This differs from the issuer\'s verdict above: do not rely on this report.' : '';
    const how = `the bundle embedded in this page (${same}) against operator key ${d.keyId}, judged on ${r.asOf ?? d.asOf}, at ${when} in ${Math.round(ms)} ms.${differs}`;
    if (r.verdict === 'valid') {
      say('valid', 'Checked in this browser just now: VALID.', `This browser verified ${how}`);
    } else if (r.verdict === 'rejected') {
      say('rejected', `Checked in this browser just now: REJECTED BY POLICY (${r.failure}).`, `${r.message}. This browser checked ${how}`);
    } else if (r.verdict === 'invalid') {
      say('invalid', `Checked in this browser just now: INVALID (${r.failure}).`, `${r.message}. This browser checked ${how}`);
    } else {
      say('unchecked', 'Not re-checked in this browser:', `${r.message}.`);
    }
  } catch (e) {
    say('error', 'Not re-checked in this browser:', `the check could not run (${e.message}).`);
  }
}
globalThis.kpVerify = async (bytes, vkey, policy = null, asOf = null) => verifyBundle(bytes, vkey, policy, asOf);
globalThis.kpRecheck = recheck;
globalThis.kpRecheckDone = recheck();
