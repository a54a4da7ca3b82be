// Browser test of `evoscope report` (CTest "browser: report"): builds the fixture run folder
// (make_run), runs the real evoscope binary on it, opens index.html from disk in Debian's
// headless Chromium through playwright-core and checks what a person would see:
//   - no console error, no page error, and no request other than file: / data: URLs;
//   - the concept table is there, sorts, greys a concept that did not clear chance, and clicking
//     a concept opens its best feature's view;
//   - igv.js renders the feature tracks with the store's values at known loci: the expected
//     values are decoded here from the store's own files (manifest.json + zlib chunks.bin), not
//     through evoscope, and compared with the features igv.js drew in its viewport, for an exact
//     (1 bp) track and a binned one (max over the bins it declares); the track's canvas has
//     coloured pixels;
//   - a screenshot of each view is saved in --work.
// Missing chromium or playwright-core: exit 77 (CTest: skipped) unless CI or
// EVOSCOPE_REQUIRE_BROWSER is set, where it is a failure.
//   node report_test.mjs --evoscope BIN --make-run BIN --work DIR
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const required = Boolean(process.env.CI || process.env.EVOSCOPE_REQUIRE_BROWSER);
const chromium = process.env.EVOSCOPE_CHROMIUM || '/usr/bin/chromium';
const sourceDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function unavailable(why) {
  console.log(`browser test: ${why} (scripts/setup.sh --deps installs chromium and runs npm ci)`);
  process.exit(required ? 1 : 77);
}
if (!fs.existsSync(chromium)) unavailable(`${chromium} not found`);
let playwright;
try {
  playwright = createRequire(path.join(sourceDir, 'package.json'))('playwright-core');
} catch (e) {
  unavailable(`playwright-core not installed in ${sourceDir}/node_modules`);
}

let failures = 0;
function check(cond, what) {
  if (cond) {
    console.log(`ok   ${what}`);
  } else {
    console.log(`FAIL ${what}`);
    failures++;
  }
}
function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  if (r.status !== 0) {
    console.log(r.stdout, r.stderr);
    throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status}`);
  }
  return r;
}

// ---- the report ------------------------------------------------------------------------------
const work = path.resolve(args.work);
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const runDir = path.join(work, 'run');
run(args['make-run'], [runDir]);
const r = run(args.evoscope, ['report', '--run', runDir, '--track-runs', '1500']);
process.stderr.write(r.stderr);
const reportDir = path.join(runDir, 'report');
for (const f of ['index.html', 'report.js', 'report.css', 'data.js', 'tracks.js', 'igv.min.js']) {
  check(fs.existsSync(path.join(reportDir, f)), `report holds ${f}`);
}

// ---- the store, read independently -------------------------------------------------------------
function readStore(dir) {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const bin = fs.readFileSync(path.join(dir, 'chunks.bin'));
  const cols = manifest.chunks_columns;
  const col = name => cols.indexOf(name);
  return { manifest, value(feature, contig, pos, strand) {
    for (const c of manifest.chunks) {
      if (c[col('contig')] !== contig || c[col('strand')] !== strand) continue;
      const begin = c[col('begin')], end = c[col('end')];
      if (pos < begin || pos >= end) continue;
      const raw = zlib.inflateSync(bin.subarray(c[col('offset')], c[col('offset')] + c[col('size')]));
      const n = end - begin;
      const counts = new Uint32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + 4 * n));
      const nnz = counts.reduce((a, b) => a + b, 0);
      const ids = new Uint32Array(raw.buffer.slice(raw.byteOffset + 4 * n, raw.byteOffset + 4 * (n + nnz)));
      const vals = new Float32Array(raw.buffer.slice(raw.byteOffset + 4 * (n + nnz), raw.byteOffset + 4 * (n + 2 * nnz)));
      let k = 0;
      for (let i = 0; i < pos - begin; i++) k += counts[i];
      for (let j = k; j < k + counts[pos - begin]; j++) if (ids[j] === feature) return vals[j];
      return 0;
    }
    return null;  // not covered
  } };
}
const store = readStore(path.join(runDir, 'features'));
check(store.manifest.contigs.length === 2, 'the store has the fixture\'s two contigs');

// ---- the page --------------------------------------------------------------------------------
const browser = await playwright.chromium.launch({ executablePath: chromium, headless: true,
  args: ['--no-sandbox', '--allow-file-access-from-files'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const consoleErrors = [];
const requests = [];
page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', e => consoleErrors.push(String(e)));
page.on('request', q => requests.push(q.url()));
page.on('requestfailed', q => consoleErrors.push(`request failed: ${q.url()}`));
const url = pathToFileURL(path.join(reportDir, 'index.html')).href;
await page.goto(url);
await page.waitForSelector('#view h2');
check((await page.textContent('#view h2')).includes('evoscope report'), 'the overview is shown');
await page.screenshot({ path: path.join(work, 'overview.png') });

// Concepts: sortable, honest about chance, click opens the feature.
await page.evaluate(() => { location.hash = '#concepts'; });
await page.waitForSelector('#concept-table tbody tr');
const nRows = await page.locator('#concept-table tbody tr').count();
check(nRows === 5, `the concept table has the 5 concepts (${nRows})`);
const trna = page.locator('#concept-table tbody tr[data-concept="tRNA"]');
check((await trna.getAttribute('class')).includes('nochance'), 'tRNA (did not clear chance) is greyed');
check((await trna.textContent()).includes('no'), 'tRNA is marked as not clearing chance');
await page.click('#concept-table th[data-key="concept"]');
const firstConcept = await page.locator('#concept-table tbody tr').first().getAttribute('data-concept');
check(firstConcept === 'CDS', `sorting by concept puts CDS first (${firstConcept})`);
await page.click('#concept-table th[data-key="concept"]');
const lastFirst = await page.locator('#concept-table tbody tr').first().getAttribute('data-concept');
check(lastFirst === 'tRNA', `a second click reverses the order (${lastFirst})`);
await page.screenshot({ path: path.join(work, 'concepts.png') });
await page.click('#concept-table tbody tr[data-concept="motif:MA0001.1"] td:first-child');
await page.waitForSelector('#feature-title');
check(await page.evaluate(() => location.hash) === '#feature/2', 'clicking motif:MA0001.1 opens #feature/2');
check((await page.textContent('#feature-title')).includes('f/2'), 'the feature view shows f/2');
check(await page.locator('.logo svg').count() === 1, 'feature 2 shows its motif logo');
check((await page.textContent('#view')).includes('MA0001.1'), 'feature 2 shows its database match');
check(await page.locator('.example').count() > 0, 'feature 2 shows top examples');
check(await page.locator('svg.histogram rect').count() === 40, 'feature 2 has a 40-bin histogram');
await page.screenshot({ path: path.join(work, 'feature.png'), fullPage: true });

// The genome browser: values drawn by igv.js against the store.
await page.evaluate(() => { location.hash = '#browser'; });
await page.evaluate(() => window.evoscope.createBrowser());
async function drawn(trackId, locus) {
  return page.evaluate(async ({ trackId, locus }) => {
    const b = window.evoscope.browser;
    await b.search(locus);
    const tv = b.trackViews.find(t => t.track.id === trackId);
    if (!tv) return { error: `no track ${trackId}` };
    const vp = tv.viewports[0];
    for (let i = 0; i < 100; i++) {
      const fc = vp.featureCache;
      const frame = vp.referenceFrame;
      if (fc && fc.chr === frame.chr && vp.canvas) break;
      await new Promise(r => setTimeout(r, 50));
    }
    await new Promise(r => setTimeout(r, 200));
    const feats = (vp.cachedFeatures || []).map(f => ({ chr: f.chr, start: f.start, end: f.end, value: f.value }));
    let coloured = 0;
    if (vp.canvas) {
      const ctx = vp.canvas.getContext('2d');
      const d = ctx.getImageData(0, 0, vp.canvas.width, vp.canvas.height).data;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 2] < 200)) coloured++;
    }
    return { feats, coloured, bpPerPixel: vp.referenceFrame.bpPerPixel, name: tv.track.name };
  }, { trackId, locus });
}
function valueAt(feats, pos) {
  const f = feats.find(x => x.start <= pos && pos < x.end);
  return f ? f.value : 0;
}
const close = (a, b) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b));

// Feature 1 (+), exact: a 41-bp window inside the first CDS (0-based 1100..1140).
const exact = await drawn('f1+', 'chrA:1101-1141');
check(!exact.error, `track f1+ exists ${exact.error || ''}`);
check(exact.feats.length >= 41, `igv.js holds the 41 bases' features (${exact.feats.length})`);
check(exact.bpPerPixel < 1, `zoomed to base level (${exact.bpPerPixel} bp/pixel)`);
let bad = [];
for (let p = 1100; p < 1141; p++) {
  const want = store.value(1, 'chrA', p, '+');
  const got = valueAt(exact.feats, p);
  if (!close(got, want)) bad.push(`${p}: ${got} vs ${want}`);
}
check(bad.length === 0, `igv.js draws f/1 (+) with the store's values at chrA:1101-1141 ${bad.slice(0, 5).join('; ')}`);
check(exact.coloured > 50, `the f/1 (+) canvas has coloured pixels (${exact.coloured})`);

// Feature 1 (-): the stretch 3000..3200.
const minus = await drawn('f1-', 'chrA:2991-3031');
bad = [];
for (let p = 2990; p < 3031; p++) {
  const want = store.value(1, 'chrA', p, '-');
  if (!close(valueAt(minus.feats, p), want)) bad.push(`${p}: ${valueAt(minus.feats, p)} vs ${want}`);
}
check(!minus.error && bad.length === 0, `igv.js draws f/1 (-) with the store's values ${bad.slice(0, 5).join('; ')}`);

// Feature 3 (+) is binned under --track-runs 1500: each drawn bin holds the max of the store.
const tracks = await page.evaluate(() => window.EVOSCOPE_TRACKS.features.map(t => ({ f: t.feature, s: t.strand, bin: t.bin_bp })));
const t3 = tracks.find(t => t.f === 3 && t.s === '+');
check(t3 && t3.bin > 1, `f/3 (+) is binned (${t3 && t3.bin} bp)`);
const binned = await drawn('f3+', 'chrB:1201-1264');
bad = [];
for (let p = 1200; p < 1264; p++) {
  const b0 = Math.floor(p / t3.bin) * t3.bin;
  let want = 0;
  for (let q = b0; q < b0 + t3.bin; q++) want = Math.max(want, store.value(3, 'chrB', q, '+') || 0);
  if (!close(valueAt(binned.feats, p), want)) bad.push(`${p}: ${valueAt(binned.feats, p)} vs ${want}`);
}
check(!binned.error && bad.length === 0, `igv.js draws f/3 (+) as the max over its ${t3 && t3.bin}-bp bins ${bad.slice(0, 5).join('; ')}`);
const annotation = await page.evaluate(() => window.evoscope.browser.trackViews.some(t => t.track.type === 'annotation'));
check(annotation, 'the browser has the annotation track');
await page.evaluate(() => window.evoscope.browser.search('chrA:900-2600'));
await page.waitForTimeout(500);
await page.screenshot({ path: path.join(work, 'browser.png') });

// SAE and provenance views render.
await page.evaluate(() => { location.hash = '#sae'; });
check(await page.locator('.sae-chart svg').count() >= 3, 'the SAE view has its charts');
await page.evaluate(() => { location.hash = '#provenance'; });
check((await page.textContent('#view')).includes('sae encode'), 'the provenance view shows run.json\'s steps');

await browser.close();
const foreign = requests.filter(u => !u.startsWith('file:') && !u.startsWith('data:'));
check(foreign.length === 0, `no request other than file:/data: (${requests.length} requests; ${foreign.slice(0, 3).join(' ')})`);
check(consoleErrors.length === 0, `no console errors ${consoleErrors.slice(0, 3).join(' | ')}`);
console.log(`${failures === 0 ? 'all passed' : failures + ' failed'}; screenshots in ${work}`);
process.exit(failures === 0 ? 0 : 1);
