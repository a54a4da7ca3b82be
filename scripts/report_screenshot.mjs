// Screenshot of an evoscope report in Debian's headless chromium (how docs/images/report.png was
// made). Prints console errors and non-file requests, so it doubles as a manual check.
//   node scripts/report_screenshot.mjs REPORT_DIR OUT.png [VIEW] [LOCUS]
//   VIEW: overview (default), concepts, features, feature/ID, browser, sae, provenance
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const [dir, out, viewName = 'overview', locus] = process.argv.slice(2);
if (!dir || !out) {
  console.error('usage: node scripts/report_screenshot.mjs REPORT_DIR OUT.png [VIEW] [LOCUS]');
  process.exit(2);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { chromium } = createRequire(path.join(root, 'package.json'))('playwright-core');
const browser = await chromium.launch({ executablePath: process.env.EVOSCOPE_CHROMIUM || '/usr/bin/chromium',
  headless: true, args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const problems = [];
page.on('console', m => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
page.on('pageerror', e => problems.push(`page error: ${e}`));
page.on('request', r => { if (!/^(file|data):/.test(r.url())) problems.push(`request: ${r.url()}`); });
await page.goto(pathToFileURL(path.join(path.resolve(dir), 'index.html')).href + '#' + viewName);
await page.waitForSelector('#view h2, #browser-view h2');
if (viewName.startsWith('browser')) {
  await page.evaluate(async l => { const b = await window.evoscope.createBrowser(); if (b && l) await b.search(l); }, locus);
  await page.waitForTimeout(1500);
}
await page.screenshot({ path: out, fullPage: process.env.FULL_PAGE === '1' });
await browser.close();
for (const p of problems) console.log(p);
console.log(`${out}: ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
