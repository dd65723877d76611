// Build the buyer's offline verifiers from web/src: verify.html, one self-contained page
// (no network), and report-verifier.js, the same verifier with the glue of the HTML
// report (cli/report/verifier.js is a committed copy of it; `make verify-page` refreshes
// it). Both inline the verifier sources and the pinned @noble/ed25519 (MIT, its licence
// embedded). Reproducible: the output depends only on the sources.
// Usage: node web/build.mjs [OUTDIR]   (default: web/dist)
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const outDir = process.argv[2] ? resolve(process.argv[2]) : here('dist');
const noble = readFileSync(here('node_modules/@noble/ed25519/index.js'), 'utf8');
const licence = readFileSync(here('node_modules/@noble/ed25519/LICENSE'), 'utf8');
const version = JSON.parse(readFileSync(here('node_modules/@noble/ed25519/package.json'), 'utf8')).version;
const strip = (src) => src
  .replace(/^import[^;]*;\s*$/gm, '')
  .replace(/^export \{[^}]*\};?\s*$/gm, '')
  .replace(/^export (const|function|async function|class) /gm, '$1 ');
const nobleBody = noble.replace(/^export \{[\s\S]*?\};\s*$/m, '').replace(/^\/\/# sourceMappingURL=.*$/m, '');
const verifier = [
  `/* @noble/ed25519 ${version}\n${licence.replace(/\*\//g, '* /')}*/`,
  `const __noble = (() => {\n${nobleBody}\nreturn { Point };\n})();\nconst { Point } = __noble;`,
  ...['core', 'rules', 'policy', 'verify'].map((f) => strip(readFileSync(here(`src/${f}.js`), 'utf8'))),
];
const script = (glue) => {
  const js = [...verifier, strip(readFileSync(here(`src/${glue}.js`), 'utf8'))].join('\n');
  if (js.includes('</script')) throw new Error('a source contains </script');
  return js;
};
const html = readFileSync(here('src/verify.html'), 'utf8').replace('/*SCRIPT*/', () => script('page'));
const report = script('report');
mkdirSync(outDir, { recursive: true });
writeFileSync(`${outDir}/verify.html`, html);
writeFileSync(`${outDir}/report-verifier.js`, report);
console.log(`verify.html: ${html.length} bytes; report-verifier.js: ${report.length} bytes`);
