// Build web/dist/verify.html: one self-contained page (no network), the verifier sources
// and the pinned @noble/ed25519 (MIT, its licence embedded) inlined. Reproducible: the
// output depends only on the sources. Usage: node web/build.mjs
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const noble = readFileSync(here('node_modules/@noble/ed25519/index.js'), 'utf8');
const licence = readFileSync(here('node_modules/@noble/ed25519/LICENSE'), 'utf8');
const version = JSON.parse(readFileSync(here('node_modules/@noble/ed25519/package.json'), 'utf8')).version;
const strip = (src) => src
  .replace(/^import[^;]*;\s*$/gm, '')
  .replace(/^export \{[^}]*\};?\s*$/gm, '')
  .replace(/^export (const|function|async function|class) /gm, '$1 ');
const nobleBody = noble.replace(/^export \{[\s\S]*?\};\s*$/m, '').replace(/^\/\/# sourceMappingURL=.*$/m, '');
const js = [
  `/* @noble/ed25519 ${version}\n${licence.replace(/\*\//g, '* /')}*/`,
  `const __noble = (() => {\n${nobleBody}\nreturn { Point };\n})();\nconst { Point } = __noble;`,
  strip(readFileSync(here('src/core.js'), 'utf8')),
  strip(readFileSync(here('src/rules.js'), 'utf8')),
  strip(readFileSync(here('src/policy.js'), 'utf8')),
  strip(readFileSync(here('src/verify.js'), 'utf8')),
  strip(readFileSync(here('src/page.js'), 'utf8')),
].join('\n');
if (js.includes('</script')) throw new Error('a source contains </script');
const html = readFileSync(here('src/verify.html'), 'utf8').replace('/*SCRIPT*/', () => js);
mkdirSync(here('dist'), { recursive: true });
writeFileSync(here('dist/verify.html'), html);
console.log(`web/dist/verify.html: ${html.length} bytes`);
