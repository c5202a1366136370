/**
 * The text side of the HTML report: escaping, safe file names from user paths, number
 * formatting and the page shell (inline CSS, no scripts, a Content-Security-Policy that forbids
 * every network fetch). Everything user-supplied (paths, error messages, recipe names) goes
 * through escapeHtml; every file name derived from a user path goes through safeName.
 */
import { createHash } from 'node:crypto';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/**
 * A file-name stem for a user path: the last two path components with every character outside
 * [A-Za-z0-9_-] replaced by '_' (dots included, so no '..' and no fake extension), cut to its last
 * 60 characters, then '-' and 10 hex digits of the path's SHA-256, so distinct paths get distinct
 * names. The result matches /^[A-Za-z0-9_-]{1,71}$/: no separators, no traversal, no hidden file.
 */
export function safeName(path: string): string {
  const tail = path
    .split(/[\\/]+/)
    .filter((s) => s !== '')
    .slice(-2)
    .join('_');
  const slug =
    tail
      .replace(/[^A-Za-z0-9_-]+/g, '_')
      .slice(-60)
      .replace(/^[_-]+|[_-]+$/g, '') || 'item';
  const hash = createHash('sha256').update(path).digest('hex').slice(0, 10);
  return `${slug}-${hash}`;
}

/** The last path component (for captions), the whole path when it has none. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]+/).filter((s) => s !== '');
  return parts[parts.length - 1] ?? path;
}

/** A number for a table cell: '—' when not finite, at most `digits` decimals, no trailing zeros. */
/** `2 scratches`, `1 spot`: a count with its noun, plural by the English suffix rules kensa's nouns need. */
export function plural(n: number, noun: string): string {
  if (n === 1) return `${n} ${noun}`;
  if (/[^aeiou]y$/.test(noun)) return `${n} ${noun.slice(0, -1)}ies`;
  return `${n} ${/(s|x|z|ch|sh)$/.test(noun) ? `${noun}es` : `${noun}s`}`;
}

export function num(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toFixed(digits)));
}

/** Milliseconds as a human duration: "850 ms", "12.4 s", "3 min 05 s", "2 h 03 min". */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${num(ms, 1)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s - m * 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Box and legend colours by defect class (shared by the SVG overlays and the CSS). */
export const CLASS_COLORS = { crack: '#ff3b30', scratch: '#ffb000', spot: '#00c8ff' } as const;
/** The colour a predicted mask is tinted with, and its opacity. */
export const MASK_TINT = { rgb: [255, 0, 255] as const, alpha: 0.45 };

const CSS = `
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;background:#f4f6f8}
header{background:#1d232b;color:#fff;padding:12px 24px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
header a{color:#9cc8ff}
main{padding:16px 24px;max-width:1400px}
h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse;background:#fff;margin:4px 0 12px}
th,td{border:1px solid #d5dbe1;padding:4px 10px;text-align:left;vertical-align:top}
th{background:#e9edf1;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #d5dbe1;border-radius:6px;padding:10px 16px;min-width:120px}
.card .v{font-size:24px;font-weight:600;font-variant-numeric:tabular-nums}
.card .k{color:#5b6773;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card.ok .v{color:#1b873f}.card.ng .v{color:#c62828}.card.error .v{color:#8e24aa}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(var(--thumb),1fr));gap:10px}
.gallery figure{margin:0;background:#fff;border:1px solid #d5dbe1;border-radius:4px;padding:6px}
.gallery img{display:block;max-width:100%;height:auto;background:#ccc}
.gallery figcaption{font-size:12px;margin-top:4px;overflow-wrap:anywhere}
.placeholder{display:flex;align-items:center;justify-content:center;aspect-ratio:4/3;background:#e0e4e8;color:#5b6773;font-size:12px;text-align:center;padding:8px}
.pager{margin:8px 0;display:flex;gap:6px;flex-wrap:wrap}
.pager a,.pager span{padding:2px 8px;border:1px solid #d5dbe1;border-radius:3px;background:#fff;text-decoration:none}
.pager span.cur{background:#1d232b;color:#fff}
.msg{white-space:pre-wrap;overflow-wrap:anywhere;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:baseline}
.legend span{margin-right:14px}
.verdict-OK{color:#1b873f;font-weight:600}.verdict-NG{color:#c62828;font-weight:600}.status-error{color:#8e24aa;font-weight:600}
.big{margin:8px 0}
.big img{max-width:100%;height:auto;border:1px solid #d5dbe1;background:#ccc}
.muted{color:#5b6773}
`;

/** A coloured swatch and the class name. */
export function classLabel(cls: keyof typeof CLASS_COLORS): string {
  return `<span class="swatch" style="background:${CLASS_COLORS[cls]}"></span>${cls}`;
}

/** The legend of box colours (and the mask tint). */
export function legend(): string {
  const [r, g, b] = MASK_TINT.rgb;
  const classes = (Object.keys(CLASS_COLORS) as (keyof typeof CLASS_COLORS)[]).map((c) => `<span>${classLabel(c)}</span>`).join('');
  return `<p class="legend muted">${classes}<span><span class="swatch" style="background:rgba(${r},${g},${b},${MASK_TINT.alpha})"></span>predicted mask</span></p>`;
}

/**
 * A complete page: doctype, charset, a CSP that allows only inline styles and images from the
 * report's own folder (no scripts, no network), the header with the run and a link to the index.
 * `title` and `runLabel` are plain text; `body` is HTML the caller built from escaped parts.
 */
export function page(o: { title: string; runLabel: string; indexHref: string; body: string; thumbSize: number }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(o.title)}</title>
<style>:root{--thumb:${o.thumbSize}px}${CSS}</style>
</head>
<body>
<header><h1>kensa inspection report</h1><span>${escapeHtml(o.runLabel)}</span><a href="${o.indexHref}">Summary</a></header>
<main>
${o.body}
</main>
</body>
</html>
`;
}

/**
 * Page links of a paginated listing; `href(k)` gives page k's address (1-based). With `total`
 * known every page is listed; pages written while the listing still streams know only whether a
 * next page exists, and link previous and next.
 */
export function pager(o: { current: number; total: number | null; hasNext: boolean; href: (k: number) => string; label: string }): string {
  const { current, total, hasNext, href } = o;
  if (current === 1 && !hasNext) return '';
  const links: string[] = [];
  if (current > 1) links.push(`<a rel="prev" href="${href(current - 1)}">← previous</a>`);
  if (total !== null) {
    for (let k = 1; k <= total; k++) links.push(k === current ? `<span class="cur">${k}</span>` : `<a href="${href(k)}">${k}</a>`);
  } else {
    links.push(`<span class="cur">page ${current}</span>`);
  }
  if (hasNext) links.push(`<a rel="next" href="${href(current + 1)}">next →</a>`);
  return `<nav class="pager" aria-label="${escapeHtml(o.label)}">${links.join('')}</nav>`;
}
