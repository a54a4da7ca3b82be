// evoscope report: renders the views of the report from window.EVOSCOPE_REPORT (data.js) and
// the genome browser from window.EVOSCOPE_TRACKS (tracks.js) with igv.js. A classic script (no
// modules, no fetch): the page works opened from disk and makes no network request.
(function () {
  'use strict';
  const R = window.EVOSCOPE_REPORT;
  const T = window.EVOSCOPE_TRACKS;
  const view = document.getElementById('view');
  const browserView = document.getElementById('browser-view');

  // ---- helpers ---------------------------------------------------------------------------
  function esc(s) {
    return String(s === null || s === undefined ? '' : s)
      .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }
  function fmt(v, digits) {
    if (v === null || v === undefined) return 'NA';
    if (typeof v !== 'number') return esc(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
    return v.toFixed(digits === undefined ? 3 : digits);
  }
  function featureLink(id, text) {
    if (id === null || id === undefined) return esc(text || '-');
    return '<a href="#feature/' + id + '">' + esc(text || ('f/' + id)) + '</a>';
  }
  function hasView(id) { return R.features && Object.prototype.hasOwnProperty.call(R.features, String(id)); }
  function kvTable(obj) {
    let h = '<table class="kv">';
    for (const k of Object.keys(obj)) {
      const v = obj[k];
      h += '<tr><td>' + esc(k) + '</td><td>' + renderValue(v) + '</td></tr>';
    }
    return h + '</table>';
  }
  // Any JSON value as HTML: objects as key/value tables, arrays of objects as tables.
  function renderValue(v) {
    if (v === null || v === undefined) return '<span class="muted">-</span>';
    if (Array.isArray(v)) {
      if (v.length && v.every(x => x && typeof x === 'object' && !Array.isArray(x))) {
        const cols = [];
        v.forEach(x => Object.keys(x).forEach(k => { if (!cols.includes(k)) cols.push(k); }));
        let h = '<table><tr>' + cols.map(c => '<th>' + esc(c) + '</th>').join('') + '</tr>';
        for (const x of v) h += '<tr>' + cols.map(c => '<td>' + renderValue(x[c]) + '</td>').join('') + '</tr>';
        return h + '</table>';
      }
      return esc(v.map(x => (typeof x === 'object' ? JSON.stringify(x) : x)).join(', '));
    }
    if (typeof v === 'object') return Object.keys(v).length ? kvTable(v) : '<span class="muted">{}</span>';
    if (typeof v === 'number') return fmt(v, 4);
    return esc(v);
  }
  function heat(frac) {
    // white -> orange -> dark red
    const f = Math.max(0, Math.min(1, frac || 0));
    const r = Math.round(255 - 75 * Math.max(0, f - 0.5) * 2);
    const g = Math.round(255 - 200 * f);
    const b = Math.round(255 - 255 * Math.min(1, f * 1.6));
    return 'rgb(' + r + ',' + g + ',' + b + ')';
  }

  // ---- SVG charts ------------------------------------------------------------------------
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + 1; }
    const step0 = (hi - lo) / n;
    const mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= step0) || step0;
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(+t.toPrecision(12));
    return ticks;
  }
  function lineChart(series, opts) {
    const W = 420, H = 220, L = 56, Rm = 12, Tm = 24, B = 36;
    const pts = series.flatMap(s => s.points);
    if (!pts.length) return '';
    let x0 = Math.min(...pts.map(p => p[0])), x1 = Math.max(...pts.map(p => p[0]));
    let y0 = Math.min(...pts.map(p => p[1])), y1 = Math.max(...pts.map(p => p[1]));
    if (opts.yMin !== undefined) y0 = Math.min(y0, opts.yMin);
    if (y1 === y0) { y1 = y0 + 1; }
    if (x1 === x0) { x1 = x0 + 1; }
    const X = x => L + (x - x0) / (x1 - x0) * (W - L - Rm);
    const Y = y => H - B - (y - y0) / (y1 - y0) * (H - B - Tm);
    let s = '<svg xmlns="http://www.w3.org/2000/svg" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + ' ' + H + '" font-size="11" font-family="sans-serif">';
    s += '<text x="' + L + '" y="14" font-weight="600">' + esc(opts.title) + '</text>';
    for (const t of niceTicks(y0, y1, 4)) {
      s += '<line x1="' + L + '" x2="' + (W - Rm) + '" y1="' + Y(t) + '" y2="' + Y(t) + '" stroke="#e5e8ee"/>';
      s += '<text x="' + (L - 4) + '" y="' + (Y(t) + 4) + '" text-anchor="end">' + esc(+t.toPrecision(4)) + '</text>';
    }
    for (const t of niceTicks(x0, x1, 4)) {
      s += '<text x="' + X(t) + '" y="' + (H - B + 14) + '" text-anchor="middle">' + esc(t >= 1e4 ? t.toExponential(1) : t) + '</text>';
    }
    s += '<text x="' + ((L + W) / 2) + '" y="' + (H - 6) + '" text-anchor="middle" fill="#667085">' + esc(opts.xlabel) + '</text>';
    s += '<line x1="' + L + '" x2="' + L + '" y1="' + Tm + '" y2="' + (H - B) + '" stroke="#888"/>';
    s += '<line x1="' + L + '" x2="' + (W - Rm) + '" y1="' + (H - B) + '" y2="' + (H - B) + '" stroke="#888"/>';
    let lx = W - Rm;
    for (const se of series.slice().reverse()) {
      if (!se.points.length) continue;
      s += '<text x="' + lx + '" y="14" text-anchor="end" fill="' + se.color + '">' + esc(se.name) + '</text>';
      lx -= 8 + 6.2 * String(se.name).length;
    }
    for (const se of series) {
      if (!se.points.length) continue;
      const d = se.points.map((p, i) => (i ? 'L' : 'M') + X(p[0]).toFixed(1) + ',' + Y(p[1]).toFixed(1)).join('');
      s += '<path d="' + d + '" fill="none" stroke="' + se.color + '" stroke-width="1.5"/>';
      if (se.points.length < 30) {
        for (const p of se.points) s += '<circle cx="' + X(p[0]).toFixed(1) + '" cy="' + Y(p[1]).toFixed(1) + '" r="2.5" fill="' + se.color + '"/>';
      }
    }
    return s + '</svg>';
  }
  function histogramChart(h) {
    const W = 420, H = 200, L = 46, Rm = 10, Tm = 20, B = 34;
    const n = h.counts.length;
    const maxLog = Math.max(1, ...h.counts.map(c => Math.log10(c + 1)));
    const bw = (W - L - Rm) / n;
    let s = '<svg xmlns="http://www.w3.org/2000/svg" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + ' ' + H + '" font-size="11" font-family="sans-serif" class="histogram">';
    s += '<text x="' + L + '" y="13" font-weight="600">Active values (log count)</text>';
    h.counts.forEach((c, i) => {
      const hh = Math.log10(c + 1) / maxLog * (H - B - Tm);
      const lo = (i / n * h.max), hi = ((i + 1) / n * h.max);
      s += '<rect x="' + (L + i * bw).toFixed(1) + '" y="' + (H - B - hh).toFixed(1) + '" width="' + Math.max(1, bw - 1).toFixed(1) + '" height="' + hh.toFixed(1) + '" fill="#1f6fb4"><title>' + lo.toPrecision(3) + '–' + hi.toPrecision(3) + ': ' + c + '</title></rect>';
    });
    for (let p = 0; p <= Math.ceil(maxLog); p++) {
      const y = H - B - p / maxLog * (H - B - Tm);
      if (y < Tm - 1) break;
      s += '<text x="' + (L - 4) + '" y="' + (y + 4) + '" text-anchor="end">' + (p === 0 ? '0' : '1e' + p) + '</text>';
    }
    s += '<line x1="' + L + '" x2="' + (W - Rm) + '" y1="' + (H - B) + '" y2="' + (H - B) + '" stroke="#888"/>';
    s += '<text x="' + L + '" y="' + (H - B + 14) + '">0</text><text x="' + (W - Rm) + '" y="' + (H - B + 14) + '" text-anchor="end">' + esc(h.max) + '</text>';
    s += '<text x="' + ((L + W) / 2) + '" y="' + (H - 6) + '" text-anchor="middle" fill="#667085">activation</text>';
    return s + '</svg>';
  }

  // ---- views -----------------------------------------------------------------------------
  function notesHtml() {
    if (!R.notes || !R.notes.length) return '';
    return '<div class="notes"><b>Not in this report:</b><ul>' + R.notes.map(n => '<li>' + esc(n) + '</li>').join('') + '</ul></div>';
  }
  function conceptIndex(name) { return R.concepts.columns.indexOf(name); }
  function conceptCell(row, name) { const i = conceptIndex(name); return i >= 0 ? row[i] : null; }

  function overview() {
    const c = R.concepts;
    const n = c.rows.length;
    const cleared = c.rows.filter(r => conceptCell(r, 'clears_chance') === 'yes').length;
    const sum = (R.align && R.align.summary) || {};
    const cfg = (R.sae && R.sae.cfg) || {};
    const store = R.provenance.store;
    let h = '<h2>' + esc(R.title) + '</h2>' + notesHtml();
    h += '<div class="cards">';
    h += '<div class="card"><div class="big">' + c.n_identified + ' / ' + n + '</div>concepts identified<div class="muted">val and test score &gt; 0.5, q ≤ 0.05, above the all-positive predictor</div></div>';
    h += '<div class="card"><div class="big">' + cleared + ' / ' + n + '</div>concepts clear chance<div class="muted">' + (sum.shifts ? sum.shifts + ' circular shifts, BH q ≤ 0.05' : 'no chance bound') + '</div></div>';
    if (sum.identified) h += '<div class="card"><div class="big">' + esc(sum.identified.neurons === undefined ? '-' : sum.identified.neurons) + ' · ' + esc(sum.identified.control === undefined ? '-' : sum.identified.control) + '</div>identified by neurons · control SAE<div class="muted">baselines (align summary)</div></div>';
    h += '<div class="card"><div class="big">' + esc(store.d_sae) + '</div>SAE features<div class="muted">' + esc(cfg.architecture || '') + (cfg.k ? ' k=' + esc(cfg.k) : '') + (store.site ? ' at ' + esc(store.site) : '') + '</div></div>';
    h += '<div class="card"><div class="big">' + R.feature_order.length + '</div>feature views</div>';
    h += '<div class="card"><div class="big">' + fmt(store.n_positions) + '</div>positions in the store<div class="muted">' + store.contigs.length + ' contig(s), both strands</div></div>';
    h += '</div>';
    const top = c.rows.map((r, i) => ({r, d: c.derived[i]})).filter(x => conceptCell(x.r, 'clears_chance') === 'yes')
      .sort((a, b) => b.d[1] - a.d[1]).slice(0, 15);
    h += '<h3>Concepts that clear chance, best test score first</h3>';
    h += '<table><tr><th>concept</th><th>best feature</th><th>test score</th><th>q</th><th>neuron baseline</th><th>control SAE</th><th>all-positive F1</th></tr>';
    for (const x of top) {
      h += '<tr class="clickable" data-feature="' + esc(x.d[0]) + '"><td>' + esc(conceptCell(x.r, 'concept')) + (x.d[2] ? ' <span class="badge id">identified</span>' : '') +
        '</td><td>' + featureLink(x.d[0], conceptCell(x.r, 'best_feature')) + '</td><td class="num">' + fmt(x.d[1]) +
        '</td><td class="num">' + fmt(conceptCell(x.r, 'q_value')) + '</td><td>' + esc(conceptCell(x.r, 'neuron_best')) + ' ' + fmt(conceptCell(x.r, 'neuron_score')) +
        '</td><td>' + esc(conceptCell(x.r, 'control_best')) + ' ' + fmt(conceptCell(x.r, 'control_score')) + '</td><td class="num">' + fmt(conceptCell(x.r, 'trivial_f1')) + '</td></tr>';
    }
    h += '</table>';
    view.innerHTML = h;
    bindRowClicks();
  }

  // The concept table: all columns of concepts.tsv (+ test score and identified), sortable.
  const conceptState = { sort: 'test_score', dir: -1, filter: '', onlyChance: false };
  // Identity and verdict first, then the baselines beside the score, then the detail.
  const conceptColumns = [
    ['concept', 'concept'], ['category', 'category'], ['best_feature', 'best feature'], ['test_score', 'test score'],
    ['clears_chance', 'clears chance'], ['q_value', 'q'], ['identified', 'identified'],
    ['neuron_best', 'neuron best'], ['neuron_score', 'neuron score'], ['control_best', 'control best'],
    ['control_score', 'control score'], ['trivial_f1', 'all-positive F1'], ['frame_baseline', 'frame baseline'],
    ['val_score', 'val score'], ['test_precision', 'test prec'], ['test_recall', 'test recall'],
    ['test_auroc', 'AUROC'], ['test_auprc', 'AUPRC'], ['p_value', 'p'], ['threshold', 'thr'], ['sense', 'sense'],
    ['n_positive', 'positives']];
  function conceptValue(row, d, key) {
    if (key === 'test_score') return d[1];
    if (key === 'identified') return d[2] ? 1 : 0;
    return conceptCell(row, key);
  }
  function concepts() {
    const c = R.concepts;
    let h = '<h2>Concepts</h2><p class="muted">One row per concept of <code>align</code> (concepts.tsv). The best feature was chosen on the validation split; scores are on the test split. ' +
      'Rows that did not clear chance (empirical p from circular shifts, BH q ≤ 0.05) are greyed and marked <span class="badge no">no</span>: their scores are not evidence. Click a row to open its best feature.</p>';
    h += '<div class="toolbar"><label>filter <input id="concept-filter" value="' + esc(conceptState.filter) + '" placeholder="concept or category"></label>' +
      '<label><input type="checkbox" id="concept-chance"' + (conceptState.onlyChance ? ' checked' : '') + '> only concepts that clear chance</label><span id="concept-count" class="muted"></span></div>';
    h += '<table id="concept-table"><thead><tr>' + conceptColumns.filter(([k]) => k === 'test_score' || k === 'identified' || conceptIndex(k) >= 0)
      .map(([k, label]) => '<th data-key="' + k + '"' + (conceptState.sort === k ? ' aria-sort="' + (conceptState.dir > 0 ? 'ascending' : 'descending') + '"' : '') + '>' + esc(label) + '</th>').join('') + '</tr></thead><tbody></tbody></table>';
    view.innerHTML = h;
    const cols = conceptColumns.filter(([k]) => k === 'test_score' || k === 'identified' || conceptIndex(k) >= 0);
    function fill() {
      const f = conceptState.filter.toLowerCase();
      let rows = c.rows.map((r, i) => ({r, d: c.derived[i]}));
      if (f) rows = rows.filter(x => String(conceptCell(x.r, 'concept')).toLowerCase().includes(f) || String(conceptCell(x.r, 'category')).toLowerCase().includes(f));
      if (conceptState.onlyChance) rows = rows.filter(x => conceptCell(x.r, 'clears_chance') === 'yes');
      const k = conceptState.sort, dir = conceptState.dir;
      rows.sort((a, b) => {
        const va = conceptValue(a.r, a.d, k), vb = conceptValue(b.r, b.d, k);
        if (va === null && vb === null) return 0;
        if (va === null) return 1;
        if (vb === null) return -1;
        if (typeof va === 'number' && typeof vb === 'number') return dir * (va - vb);
        return dir * String(va).localeCompare(String(vb));
      });
      let body = '';
      for (const x of rows) {
        const chance = conceptCell(x.r, 'clears_chance') === 'yes';
        body += '<tr class="clickable' + (chance ? '' : ' nochance') + '" data-feature="' + esc(x.d[0]) + '" data-concept="' + esc(conceptCell(x.r, 'concept')) + '">';
        for (const [key] of cols) {
          const v = conceptValue(x.r, x.d, key);
          if (key === 'best_feature') body += '<td>' + featureLink(x.d[0], v) + '</td>';
          else if (key === 'clears_chance') body += '<td><span class="badge ' + (chance ? 'yes">yes' : 'no">no') + '</span></td>';
          else if (key === 'identified') body += '<td>' + (v ? '<span class="badge id">yes</span>' : '') + '</td>';
          else body += '<td' + (typeof v === 'number' ? ' class="num"' : '') + '>' + fmt(v) + '</td>';
        }
        body += '</tr>';
      }
      view.querySelector('tbody').innerHTML = body;
      document.getElementById('concept-count').textContent = rows.length + ' of ' + c.rows.length + ' concepts';
      bindRowClicks();
    }
    view.querySelectorAll('th').forEach(th => th.addEventListener('click', () => {
      const k = th.dataset.key;
      conceptState.dir = conceptState.sort === k ? -conceptState.dir : (k === 'concept' || k === 'category' ? 1 : -1);
      conceptState.sort = k;
      view.querySelectorAll('th').forEach(t => t.removeAttribute('aria-sort'));
      th.setAttribute('aria-sort', conceptState.dir > 0 ? 'ascending' : 'descending');
      fill();
    }));
    document.getElementById('concept-filter').addEventListener('input', e => { conceptState.filter = e.target.value; fill(); });
    document.getElementById('concept-chance').addEventListener('change', e => { conceptState.onlyChance = e.target.checked; fill(); });
    fill();
  }
  function bindRowClicks() {
    view.querySelectorAll('tr.clickable').forEach(tr => tr.addEventListener('click', e => {
      if (e.target.tagName === 'A') return;
      const id = tr.dataset.feature;
      if (id !== '' && id !== 'null') location.hash = '#feature/' + id;
    }));
  }

  function featureList() {
    let h = '<h2>Features</h2><p class="muted">Features with a view: the best features of concepts (those that clear chance first), features with a discovered motif, then other labelled features.</p>';
    h += '<table><tr><th>feature</th><th>label</th><th>best feature of</th><th>test score</th><th>density</th><th>max</th><th>motif match</th></tr>';
    for (const id of R.feature_order) {
      const f = R.features[String(id)];
      const row = f.row || {};
      const m = f.motif && f.motif.matches && f.motif.matches[0];
      h += '<tr class="clickable" data-feature="' + id + '"><td>' + featureLink(id) + '</td><td>' + esc(row.label || '-') + '</td><td>' +
        esc(f.best_for.slice(0, 4).join(', ') + (f.best_for.length > 4 ? ', …' : '')) + '</td><td class="num">' + fmt(row.test_score) +
        '</td><td class="num">' + fmt(row.density, 4) + '</td><td class="num">' + fmt(row.max) + '</td><td>' + (m ? esc(m.Target_ID) + ' (q ' + fmt(m['q-value']) + ')' : (f.motif ? 'no match' : '')) + '</td></tr>';
    }
    view.innerHTML = h + '</table>';
    bindRowClicks();
  }

  function feature(id) {
    if (!hasView(id)) {
      view.innerHTML = '<h2>Feature f/' + esc(id) + '</h2><p>This feature has no view in this report (see the notes on the overview: --max-features).</p>';
      return;
    }
    const f = R.features[String(id)];
    const row = f.row || {};
    let h = '<h2 id="feature-title">Feature f/' + id + (row.label && row.label !== '-' ? ' · ' + esc(row.label) : '') + '</h2>';
    if (f.best_for.length) h += '<p>Best feature of: ' + f.best_for.map(c => '<a href="#concepts" data-concept="' + esc(c) + '" class="concept-link">' + esc(c) + '</a>').join(', ') + '</p>';
    else h += '<p class="muted">Not the best feature of any concept.</p>';
    if (f.browser && T) h += '<p><button id="show-in-browser">Show its top peak in the genome browser</button></p>';
    h += '<div class="figure">' + (row && Object.keys(row).length ? kvTable(row) : '<p class="muted">No row in features.tsv.</p>') + '</div>';
    const hist = f.histogram;
    h += '<div class="figure">' + histogramChart(hist) + '<div class="caption">Active at ' + fmt(hist.n_active) + ' of ' + fmt(hist.n_covered) +
      ' positions (both strands, ' + fmt(hist.n_covered ? hist.n_active / hist.n_covered : 0, 4) + '); ' + hist.counts.length + ' bins over (0, ' + esc(hist.max) + '].</div></div>';
    if (f.motif) {
      const m = f.motif;
      h += '<h3>Motif (evoscope motifs discover)</h3><div class="figure logo">' + (m.logo_svg || '<p class="muted">no logo.svg</p>') + '</div><div class="figure">';
      h += kvTable({consensus: m.consensus || '-', width: m.width, peaks: m.n_peaks, folder: m.folder});
      if (m.matches && m.matches.length) {
        h += '<p><b>Best database match:</b> ' + esc(m.matches[0].Target_ID) + ' (p ' + fmt(m.matches[0]['p-value']) + ', E ' + fmt(m.matches[0]['E-value']) + ', q ' + fmt(m.matches[0]['q-value']) + ', orientation ' + esc(m.matches[0].Orientation) + ')</p>';
        h += renderValue(m.matches);
      } else {
        h += '<p class="muted">No database match below the q threshold of motifs discover.</p>';
      }
      h += '</div>';
    }
    h += '<h3>Top examples</h3><p class="muted">The strongest peaks (local maxima at ≥ 0.2 of the maximum, at least ' + (2 * ((R.provenance.report.options || {}).flank_bp || 0) + 1) +
      ' bp apart), ± ' + esc((R.provenance.report.options || {}).flank_bp) + ' bp, read 5′→3′ on the strand of the activation row (− rows reverse-complemented). Bases are coloured by the activation at that base relative to the feature\'s maximum; the peak base is outlined.</p>';
    if (!f.examples.length) h += '<p class="muted">No peaks.</p>';
    for (const e of f.examples) {
      const n = e.values.length;
      const peakIndex = e.strand === '+' ? e.position - e.begin : e.end - 1 - e.position;
      let seq = '';
      for (let i = 0; i < n; i++) {
        const v = e.values[i];
        const b = e.sequence ? e.sequence[i] : '·';
        seq += '<span style="background:' + heat(v === null ? 0 : v / hist.max) + '"' + (i === peakIndex ? ' class="peak"' : '') + ' title="' + (v === null ? 'not covered' : v) + '">' + esc(b) + '</span>';
      }
      h += '<div class="example"><div class="where">' + esc(e.contig) + ':' + (e.position + 1).toLocaleString('en-US') + ' (' + esc(e.strand) + ')  value ' + esc(e.value) +
        '</div><div class="seq">' + seq + '</div></div>';
    }
    view.innerHTML = h;
    view.querySelectorAll('.concept-link').forEach(a => a.addEventListener('click', () => { conceptState.filter = a.dataset.concept; }));
    const btn = document.getElementById('show-in-browser');
    if (btn && f.examples.length) {
      const e = f.examples[0];
      btn.addEventListener('click', () => {
        location.hash = '#browser/' + encodeURIComponent(e.contig + ':' + Math.max(1, e.position - 99) + '-' + (e.position + 101));
      });
    } else if (btn) btn.disabled = true;
  }

  function sae() {
    const s = R.sae || {};
    let h = '<h2>Sparse autoencoder</h2>';
    if (!s.folder) { view.innerHTML = h + notesHtml(); return; }
    h += '<p class="muted">' + esc(s.folder) + '</p>';
    if (s.log) {
      const cols = s.log.columns, rows = s.log.rows;
      const ci = name => cols.indexOf(name);
      const xcol = ci('tokens') >= 0 ? 'tokens' : 'step';
      const series = (name, label, color) => {
        const i = ci(name), xi = ci(xcol);
        if (i < 0) return null;
        const points = rows.filter(r => r[i] !== null && r[xi] !== null).map(r => [r[xi], r[i]]);
        return points.length ? {name: label, color, points} : null;
      };
      const charts = [
        ['Explained variance', [series('eval_explained_variance', 'eval', '#1f6fb4'), ci('fvu') >= 0 ? (() => { const x = series('fvu', 'train (1 − FVU)', '#9aa5b8'); if (x) x.points = x.points.map(p => [p[0], 1 - p[1]]); return x; })() : null]],
        ['L0 (active features per position)', [series('eval_l0', 'eval', '#1f6fb4'), series('l0', 'train', '#9aa5b8')]],
        ['Dead fraction', [series('eval_dead_fraction', 'eval', '#c0392b'), series('dead_fraction', 'train', '#e8a598')]],
        ['Loss', [series('loss', 'loss', '#14213d'), series('mse', 'mse', '#9aa5b8')]]];
      for (const [title, ser] of charts) {
        const ok = ser.filter(Boolean);
        if (ok.length) h += '<div class="figure sae-chart">' + lineChart(ok, {title, xlabel: xcol}) + '</div>';
      }
      const evalRows = rows.filter(r => ci('eval_explained_variance') >= 0 && r[ci('eval_explained_variance')] !== null);
      if (evalRows.length) {
        const last = evalRows[evalRows.length - 1];
        h += '<p>Last evaluation (' + xcol + ' ' + fmt(last[ci(xcol)]) + '): explained variance <b>' + fmt(last[ci('eval_explained_variance')]) + '</b>, L0 <b>' + fmt(last[ci('eval_l0')]) +
          '</b>, dead fraction <b>' + fmt(last[ci('eval_dead_fraction')]) + '</b>. ' + fmt(s.log.n_rows) + ' log rows (' + rows.length + ' drawn).</p>';
      }
    }
    if (s.cfg) h += '<h3>cfg.json</h3>' + kvTable(s.cfg);
    if (s.curves_svg) h += '<h3>curves.svg (as written by sae train)</h3><div class="figure">' + s.curves_svg + '</div>';
    view.innerHTML = h;
  }

  function provenance() {
    const p = R.provenance;
    let h = '<h2>Provenance</h2>';
    h += '<h3>This report</h3>' + kvTable(p.report) + '<h3>Inputs</h3>' + kvTable(p.inputs);
    h += '<h3>Run (run.json)</h3>' + (p.run && Object.keys(p.run).length ? renderValue(p.run) : '<p class="muted">No run.json.</p>');
    h += '<h3>Feature store</h3>' + kvTable(p.store);
    h += '<h3>Alignment (align/summary.json)</h3>' + renderValue(R.align.summary);
    view.innerHTML = h;
  }

  // ---- the genome browser ----------------------------------------------------------------
  // Feature tracks arrive as runs [contig, begin deltas, lengths, values]; igv.js gets them as
  // inline wig features {chr, start, end, value} (igv.js reads no bigWig from file://).
  function expandRuns(track) {
    const out = [];
    for (const [c, starts, lengths, values] of track.runs) {
      const chr = T.contigs[c];
      let pos = 0;
      for (let i = 0; i < starts.length; i++) {
        const start = pos + starts[i];
        pos = start + lengths[i];
        out.push({chr, start, end: pos, value: values[i]});
      }
    }
    return out;
  }
  let browserPromise = null;
  function createBrowser() {
    if (browserPromise) return browserPromise;
    if (!T || typeof igv === 'undefined') {
      document.getElementById('igv').innerHTML = '<p class="muted">No genome browser in this report (see the overview\'s notes).</p>';
      browserPromise = Promise.resolve(null);
      return browserPromise;
    }
    const reference = T.reference.format === 'fasta'
      ? {id: 'evoscope', name: 'genome', fastaURL: T.reference.url, indexed: false}
      : {id: 'evoscope', name: 'genome', format: 'chromsizes', fastaURL: T.reference.url};
    const tracks = [];
    if (T.annotation) {
      tracks.push({name: T.annotation_name || 'annotation', type: 'annotation', displayMode: 'EXPANDED', features: T.annotation, color: '#14213d', order: 1});
    }
    let legend = '<p class="muted">Feature tracks: the activation on each strand (+ blue, − red), one shared scale per feature, named after the concepts the feature is best for (else its label). ';
    legend += 'Values are exact per base where a track says 1 bp; coarser tracks hold the maximum over each bin (the finest power-of-two bin that fits the run budget). Absent = 0 or not covered.</p><ul>';
    T.features.forEach((t, i) => {
      const features = expandRuns(t);
      const fv = R.features[String(t.feature)];
      const about = fv && fv.best_for.length ? fv.best_for.slice(0, 2).join(', ') + (fv.best_for.length > 2 ? ', …' : '') : t.label;
      const res = t.bin_bp === 1 ? '1 bp (exact)' : 'max over ' + t.bin_bp + '-bp bins';
      tracks.push({
        id: 'f' + t.feature + t.strand, name: 'f/' + t.feature + ' ' + t.strand + (about ? ' ' + about : '') + (t.bin_bp > 1 ? ' [' + t.bin_bp + ' bp]' : ''),
        type: 'wig', features, color: t.strand === '+' ? '#1f6fb4' : '#c0392b', autoscaleGroup: 'f' + t.feature,
        windowFunction: 'max', height: 44, searchable: false, order: 10 + i});
      legend += '<li>' + featureLink(t.feature) + ' ' + esc(t.strand) + (about ? ' (' + esc(about) + ')' : '') + ': ' + res + ', ' + t.n_runs.toLocaleString('en-US') + ' runs' + (t.over_budget ? ' (over the budget even at the coarsest bins)' : '') + '</li>';
    });
    document.getElementById('browser-legend').innerHTML = legend + '</ul>';
    const options = {reference, locus: R.browser.locus, tracks, showCenterGuide: true, loadDefaultGenomes: false};
    browserPromise = igv.createBrowser(document.getElementById('igv'), options).then(b => {
      window.evoscope.browser = b;
      return b;
    });
    return browserPromise;
  }

  // ---- routing ---------------------------------------------------------------------------
  const routes = {overview, concepts, features: featureList, feature, sae, provenance};
  function route() {
    const hash = decodeURIComponent(location.hash.replace(/^#/, '')) || 'overview';
    const slash = hash.indexOf('/');
    const name = slash < 0 ? hash : hash.slice(0, slash);
    const arg = slash < 0 ? null : hash.slice(slash + 1);
    document.querySelectorAll('#nav a').forEach(a => a.classList.toggle('active', a.dataset.view === (name === 'feature' ? 'features' : name)));
    if (name === 'browser') {
      view.hidden = true;
      browserView.hidden = false;
      createBrowser().then(b => { if (b && arg) return b.search(arg); });
      return;
    }
    view.hidden = false;
    browserView.hidden = true;
    (routes[name] || overview)(arg);
    window.scrollTo(0, 0);
  }
  window.evoscope = {browser: null, createBrowser, route};
  document.getElementById('title').textContent = R.title.replace(/^evoscope report:?\s*/, '') || 'report';
  const rep = R.provenance.report;
  document.getElementById('footer').textContent = 'evoscope ' + rep.version + ' · ' + rep.created + ' · ' + rep.command;
  window.addEventListener('hashchange', route);
  route();
})();
