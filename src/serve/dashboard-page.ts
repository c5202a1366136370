/**
 * The dashboard: one HTML page with its CSS and script inline, reading only the JSON routes
 * (no build step, nothing fetched from elsewhere). It polls every two seconds: the live counters
 * (the runs' counts, images per second between polls, and from /metrics the queue depth and the
 * batches in flight), the runs, the selected run's throughput per second (an SVG bar chart) and
 * mean stage timings, its NG gallery (highest score first, boxes drawn over the original where the
 * run kept it) and, on a click, the item's original and mask side by side with its defects.
 * A token given as `#token=…` in the address is kept in sessionStorage and sent as a bearer token.
 */
import { CLASS_COLORS } from '../report/html.js';

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;background:#f4f6f8}
header{background:#1d232b;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
#status{color:#9fb0c0;font-size:12px}
main{padding:12px 24px;max-width:1500px}
h2{font-size:16px;margin:20px 0 8px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #d5dbe1;border-radius:6px;padding:8px 16px;min-width:130px}
.card .v{font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}
.card .k{color:#5b6773;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.ok .v{color:#1b873f}.card.ng .v{color:#c62828}.card.error .v{color:#8e24aa}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #d5dbe1;padding:4px 10px;text-align:left}
th{background:#e9edf1;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.run{cursor:pointer}tr.run:hover{background:#eef4fb}tr.sel{background:#dcebfb}
.badge{font-size:11px;padding:1px 6px;border-radius:8px;background:#e9edf1;margin-left:6px}
.row{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}
#chart{background:#fff;border:1px solid #d5dbe1;border-radius:4px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:10px}
.gallery figure{margin:0;background:#fff;border:1px solid #d5dbe1;border-radius:4px;padding:6px;cursor:pointer}
.gallery figcaption{font-size:12px;margin-top:4px;overflow-wrap:anywhere}
.shot{position:relative;background:#c9cfd6;aspect-ratio:var(--ar,1)}
.shot img{position:absolute;inset:0;width:100%;height:100%;image-rendering:pixelated}
.shot svg{position:absolute;inset:0;width:100%;height:100%}
.shot .none{position:absolute;inset:0;display:flex;align-items:center;justify-content:center;color:#5b6773;font-size:12px}
#detail{background:#fff;border:1px solid #d5dbe1;border-radius:6px;padding:12px;margin-top:12px}
#detail .pair{display:flex;gap:16px;flex-wrap:wrap}
#detail .pair>div{width:min(480px,100%)}
.muted{color:#5b6773}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.legend span{margin-right:14px;font-size:12px}
.verdict-OK{color:#1b873f;font-weight:600}.verdict-NG{color:#c62828;font-weight:600}
`;

const SCRIPT = `
const COLORS = ${JSON.stringify(CLASS_COLORS)};
const hash = new URLSearchParams(location.hash.slice(1));
if (hash.get('token')) sessionStorage.setItem('kensa-token', hash.get('token'));
const token = sessionStorage.getItem('kensa-token');
const auth = token ? { authorization: 'Bearer ' + token } : {};
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const plural = (n, noun) => n + ' ' + noun + (n === 1 ? '' : 's');
const q = (o) => new URLSearchParams(o).toString();
let selected = null, lastTotal = null, lastAt = null, galleryKey = '';

/** A failed route call: the status line shows its message. */
class ApiError extends Error {}

async function api(path) {
  const r = await fetch(path, { headers: auth });
  if (r.status === 401) throw new ApiError('unauthorized: open this page as /#token=YOUR_TOKEN');
  if (!r.ok) throw new ApiError(path + ': ' + r.status);
  return r;
}
const json = async (path) => (await api(path)).json();

/** An image route as an object URL (an img element cannot send the bearer token). */
async function blobUrl(path) {
  try { return URL.createObjectURL(await (await api(path)).blob()); } catch { return null; }
}

function card(k, v, cls) { return '<div class="card ' + (cls || '') + '"><div class="v" data-k="' + k + '">' + v + '</div><div class="k">' + k + '</div></div>'; }

async function counters(runs) {
  const sum = { total: 0, ok: 0, ng: 0, error: 0 };
  for (const r of runs) for (const k in sum) sum[k] += r.counts[k];
  const now = performance.now();
  const rate = lastTotal === null ? 0 : ((sum.total - lastTotal) * 1000) / (now - lastAt);
  lastTotal = sum.total; lastAt = now;
  let queue = '–', inflight = '–';
  try {
    const text = await (await api('/metrics')).text();
    queue = (/^kensa_queue_depth (\\S+)/m.exec(text) || [])[1] ?? '–';
    inflight = (/^kensa_batches_in_flight (\\S+)/m.exec(text) || [])[1] ?? '–';
  } catch {}
  $('counters').innerHTML = card('images', sum.total) + card('ok', sum.ok, 'ok') + card('ng', sum.ng, 'ng') + card('errors', sum.error, 'error')
    + card('images/s', rate.toFixed(1)) + card('queue', queue) + card('batches in flight', inflight);
}

function runsTable(runs) {
  const rows = runs.map((r) => '<tr class="run' + (r.id === selected ? ' sel' : '') + '" data-id="' + esc(r.id) + '"><td><code>' + esc(r.id) + '</code>'
    + (r.service ? '<span class="badge">service</span>' : '') + '</td><td>' + esc(r.status) + '</td><td>' + esc(r.recipeName) + '</td><td>' + esc(r.device)
    + '</td><td class="n">' + r.counts.total + '</td><td class="n">' + r.counts.ok + '</td><td class="n">' + r.counts.ng + '</td><td class="n">' + r.counts.error
    + '</td><td>' + esc(r.createdAt.replace('T', ' ').slice(0, 19)) + '</td></tr>');
  $('runs').innerHTML = '<table><tr><th>run</th><th>status</th><th>recipe</th><th>device</th><th>images</th><th>OK</th><th>NG</th><th>errors</th><th>started (UTC)</th></tr>'
    + rows.join('') + '</table>';
  for (const tr of document.querySelectorAll('tr.run')) tr.onclick = () => { selected = tr.dataset.id; galleryKey = ''; refresh(); };
}

function chart(points) {
  const W = 640, H = 180, P = 28;
  if (points.length === 0) return '<svg id="chart" width="' + W + '" height="' + H + '"><text x="12" y="24" fill="#5b6773">no items yet</text></svg>';
  const t0 = Date.parse(points[0].t), t1 = Date.parse(points[points.length - 1].t);
  const span = Math.max(1, (t1 - t0) / 1000 + 1), max = Math.max(...points.map((p) => p.images));
  const bw = Math.min(24, Math.max(1, (W - 2 * P) / span - 1));
  const bars = points.map((p) => {
    const x = P + ((Date.parse(p.t) - t0) / 1000) * ((W - 2 * P) / span), y = (n) => H - P - (n / max) * (H - 2 * P);
    // stacked from the axis: NG, then errors, then OK (the rest of the bar)
    return '<rect x="' + x + '" y="' + y(p.images) + '" width="' + bw + '" height="' + (H - P - y(p.images)) + '" fill="#4a90d9"><title>' + esc(p.t) + ': ' + p.images + ' images, '
      + p.ng + ' NG, ' + p.error + ' errors</title></rect>'
      + '<rect class="errbar" x="' + x + '" y="' + y(p.ng + p.error) + '" width="' + bw + '" height="' + (y(p.ng) - y(p.ng + p.error)) + '" fill="#8e24aa"></rect>'
      + '<rect x="' + x + '" y="' + y(p.ng) + '" width="' + bw + '" height="' + (H - P - y(p.ng)) + '" fill="#c62828"></rect>';
  });
  return '<svg id="chart" width="' + W + '" height="' + H + '"><text x="' + P + '" y="16" font-size="12" fill="#5b6773">images per second (NG in red, errors in purple); peak ' + max + '/s over ' + Math.round(span) + ' s</text>'
    + '<line x1="' + P + '" y1="' + (H - P) + '" x2="' + (W - P) + '" y2="' + (H - P) + '" stroke="#9fb0c0"/>' + bars.join('') + '</svg>';
}

const STAGE_COLORS = ['#2e7d32', '#ef6c00', '#6a1b9a', '#00838f'];

/** Mean time of each stage per image judged OK or NG, per second of the run: one polyline per stage. */
function stagesChart(points) {
  const W = 640, H = 180, P = 28;
  const names = [...new Set(points.flatMap((p) => Object.keys(p.stages || {})))];
  if (points.length === 0 || names.length === 0) return '';
  const t0 = Date.parse(points[0].t), span = Math.max(1, (Date.parse(points[points.length - 1].t) - t0) / 1000);
  const max = Math.max(...points.flatMap((p) => names.map((n) => p.stages[n] || 0)), 1e-9);
  const xy = (p, n) => (P + ((Date.parse(p.t) - t0) / 1000 / span) * (W - 2 * P)).toFixed(1) + ',' + (H - P - ((p.stages[n] || 0) / max) * (H - 2 * P)).toFixed(1);
  // a second of errors alone timed no stage: no point there rather than a 0
  const timed = (n) => points.filter((p) => p.stages[n] !== undefined);
  const lines = names.map((n, i) => '<polyline fill="none" stroke-width="2" stroke="' + STAGE_COLORS[i % 4] + '" points="' + timed(n).map((p) => xy(p, n)).join(' ') + '"/>'
    + timed(n).map((p) => '<circle r="2.5" fill="' + STAGE_COLORS[i % 4] + '" cx="' + xy(p, n).split(',')[0] + '" cy="' + xy(p, n).split(',')[1] + '"/>').join(''));
  const legend = names.map((n, i) => '<tspan fill="' + STAGE_COLORS[i % 4] + '">■ ' + esc(n) + '</tspan>').join(' ');
  return '<svg id="stagechart" width="' + W + '" height="' + H + '" style="background:#fff;border:1px solid #d5dbe1;border-radius:4px"><text x="' + P + '" y="16" font-size="12" fill="#5b6773">mean ms per image by stage, errors left out (max ' + max.toFixed(1) + ' ms) '
    + legend + '</text><line x1="' + P + '" y1="' + (H - P) + '" x2="' + (W - P) + '" y2="' + (H - P) + '" stroke="#9fb0c0"/>' + lines.join('') + '</svg>';
}

function boxes(defects, w, h) {
  return '<svg viewBox="0 0 ' + w + ' ' + h + '" preserveAspectRatio="none">' + defects.map((d) => '<rect class="box" data-class="' + esc(d.class) + '" x="' + (d.x - 1) + '" y="' + (d.y - 1) + '" width="' + (d.w + 2) + '" height="' + (d.h + 2)
    + '" fill="none" stroke="' + (COLORS[d.class] || '#fff') + '" stroke-width="2" vector-effect="non-scaling-stroke"/>').join('') + '</svg>';
}

async function shot(run, item, defects, which) {
  const url = await blobUrl('/v1/items/' + which + '?' + q({ run, key: item.itemKey }));
  const w = item.width || 1, h = item.height || 1;
  return '<div class="shot" style="--ar:' + w / h + '">' + (url ? '<img alt="' + which + '" src="' + url + '">' : '<div class="none">no ' + which + ' kept</div>')
    + (which === 'original' ? boxes(defects, w, h) : '') + '</div>';
}

async function gallery(run) {
  const { items } = await json('/v1/items?' + q({ run, status: 'ng', order: 'score', limit: 24, offset: 0 }));
  const key = run + ':' + items.map((i) => i.itemKey).join('|');
  if (key === galleryKey) return;
  galleryKey = key;
  const { defects } = await json('/v1/defects?' + q({ run, limit: 1000 }));
  const byItem = new Map();
  for (const d of defects) byItem.set(d.itemKey, [...(byItem.get(d.itemKey) || []), d]);
  const figures = await Promise.all(items.map(async (it) => '<figure data-key="' + esc(it.itemKey) + '">' + (await shot(run, it, byItem.get(it.itemKey) || [], 'original'))
    + '<figcaption><code>' + esc(it.itemKey) + '</code><br><span class="verdict-NG">NG</span> score ' + (it.score ?? 0).toFixed(2) + ', ' + plural((byItem.get(it.itemKey) || []).length, 'defect') + '</figcaption></figure>'));
  $('gallery').innerHTML = figures.join('') || '<p class="muted">no NG items in this run</p>';
  for (const f of document.querySelectorAll('#gallery figure')) f.onclick = () => detail(run, items.find((i) => i.itemKey === f.dataset.key));
  const timed = items.filter((i) => i.stageTimings);
  const stages = {};
  for (const i of timed) for (const [k, v] of Object.entries(i.stageTimings)) stages[k] = (stages[k] || 0) + v / timed.length;
  $('stages').textContent = Object.keys(stages).length ? 'mean stage times of these items: ' + Object.entries(stages).map(([k, v]) => k + ' ' + v.toFixed(1) + ' ms').join(', ') : '';
}

async function detail(run, item) {
  const { defects } = await json('/v1/defects?' + q({ run, item: item.itemKey }));
  const rows = defects.map((d) => '<tr><td>' + d.idx + '</td><td><span class="swatch" style="background:' + (COLORS[d.class] || '#999') + '"></span>' + esc(d.class) + '</td><td class="n">' + d.x + ', ' + d.y
    + '</td><td class="n">' + d.w + '×' + d.h + '</td><td class="n">' + d.area + '</td><td class="n">' + d.score.toFixed(2) + '</td></tr>').join('');
  $('detail').hidden = false;
  $('detail').innerHTML = '<h2>' + esc(item.itemKey) + ' <span class="verdict-' + esc(item.verdict) + '">' + esc(item.verdict) + '</span> <span class="muted">' + item.width + '×' + item.height + '</span></h2>'
    + '<div class="pair"><div>original with defect boxes' + (await shot(run, item, defects, 'original')) + '</div><div>mask (white = defect)' + (await shot(run, item, defects, 'mask')) + '</div></div>'
    + '<table style="margin-top:8px;width:auto"><tr><th>#</th><th>class</th><th>x, y</th><th>size</th><th>area</th><th>score</th></tr>' + rows + '</table>';
}

async function refresh() {
  try {
    const { runs } = await json('/v1/runs?limit=50');
    await counters(runs);
    if (!selected && runs.length) selected = runs[0].id;
    runsTable(runs);
    if (selected) {
      const run = runs.find((r) => r.id === selected);
      $('runtitle').textContent = run ? 'Run ' + run.id + ' (' + run.recipeName + ', ' + run.status + ')' : '';
      const { points } = await json('/v1/runs/' + encodeURIComponent(selected) + '/throughput?bucketS=1');
      $('throughput').innerHTML = chart(points);
      $('stagetimes').innerHTML = stagesChart(points);
      await gallery(selected);
    }
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    $('status').textContent = String(e.message || e);
  }
}
refresh();
setInterval(refresh, 2000);
`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>kensa dashboard</title><style>${CSS}</style></head>
<body><header><h1>kensa</h1><span id="status">loading…</span></header>
<main>
<div id="counters" class="cards"></div>
<h2>Runs</h2><div id="runs"></div>
<h2 id="runtitle"></h2>
<div class="row"><div id="throughput"></div><div id="stagetimes"></div></div><div><p class="legend">${Object.entries(CLASS_COLORS)
  .map(([k, c]) => `<span><span class="swatch" style="background:${c}"></span>${k}</span>`)
  .join('')}</p><p id="stages" class="muted"></p></div>
<h2>NG gallery</h2><div id="gallery" class="gallery"></div>
<div id="detail" hidden></div>
</main>
<script>${SCRIPT}</script></body></html>
`;
