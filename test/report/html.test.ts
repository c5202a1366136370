import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { baseName, duration, escapeHtml, num, page, pager, plural, safeName } from '../../src/report/html.js';

describe('report html', () => {
  test('plural: one noun, the English suffix rules kensa needs', () => {
    assert.deepEqual(
      [
        plural(1, 'scratch'),
        plural(2, 'scratch'),
        plural(0, 'spot'),
        plural(2, 'spot'),
        plural(3, 'crack'),
        plural(2, 'entry'),
        plural(2, 'day'),
        plural(1, 'image'),
        plural(2, 'NG image'),
        plural(2, 'box'),
      ],
      ['1 scratch', '2 scratches', '0 spots', '2 spots', '3 cracks', '2 entries', '2 days', '1 image', '2 NG images', '2 boxes'],
    );
  });

  test('escapeHtml escapes every character that can open markup or leave an attribute', () => {
    assert.equal(escapeHtml(`<img src=x onerror="a('b')">&amp;`), '&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;amp;');
    assert.equal(escapeHtml('plain text, ünïcode ✓'), 'plain text, ünïcode ✓');
  });

  test('safeName keeps only [A-Za-z0-9_-], cannot traverse, and is unique per path', () => {
    const hostile = [
      '../../etc/passwd',
      '..\\..\\windows\\system32',
      '/',
      '',
      '.hidden',
      `a/<img src=x onerror=alert(1)>&"'.png`,
      'con',
      'x'.repeat(500),
      'dir/ü 1.png',
    ];
    const names = hostile.map(safeName);
    for (const n of names) assert.match(n, /^[A-Za-z0-9_-]{1,71}$/, n);
    assert.equal(new Set(names).size, names.length);
    // paths that slug alike still differ by their hash
    assert.notEqual(safeName('a/b.png'), safeName('a_b.png'));
    assert.notEqual(safeName('a/b.png'), safeName('a/b_png'));
    assert.equal(safeName('shots/line1/0001.png'), safeName('shots/line1/0001.png'));
    assert.match(safeName('shots/line1/0001.png'), /^line1_0001_png-[0-9a-f]{10}$/);
    assert.match(safeName('../../etc/passwd'), /^etc_passwd-[0-9a-f]{10}$/);
    assert.match(safeName('/'), /^item-[0-9a-f]{10}$/);
  });

  test('baseName, num and duration format for captions and tables', () => {
    assert.equal(baseName('/a/b/c.png'), 'c.png');
    assert.equal(baseName('C:\\x\\y.tif'), 'y.tif');
    assert.equal(num(1.23456), '1.235');
    assert.equal(num(2), '2');
    assert.equal(num(Number.NaN), '—');
    assert.equal(num(null), '—');
    assert.equal(duration(850), '850 ms');
    assert.equal(duration(5230), '5.23 s');
    assert.equal(duration(42_000), '42.0 s');
    assert.equal(duration(185_000), '3 min 05 s');
    assert.equal(duration(7_380_000), '2 h 03 min');
  });

  test('pager lists every page when the total is known, previous/next while streaming', () => {
    const href = (k: number) => (k === 1 ? 'index.html#gallery' : `gallery-${k}.html`);
    assert.equal(pager({ current: 1, total: 1, hasNext: false, href, label: 'g' }), '');
    const full = pager({ current: 1, total: 3, hasNext: true, href, label: 'g' });
    assert.match(full, /<span class="cur">1<\/span><a href="gallery-2.html">2<\/a><a href="gallery-3.html">3<\/a><a rel="next" href="gallery-2.html">/);
    assert.ok(!full.includes('rel="prev"'));
    const mid = pager({ current: 2, total: null, hasNext: true, href, label: 'g' });
    assert.match(mid, /<a rel="prev" href="index.html#gallery">← previous<\/a><span class="cur">page 2<\/span><a rel="next" href="gallery-3.html">next →<\/a>/);
    const last = pager({ current: 3, total: null, hasNext: false, href, label: 'g' });
    assert.ok(last.includes('rel="prev"') && !last.includes('rel="next"'));
  });

  test('page is one self-contained document: escaped title, CSP without network or scripts, no external resources', () => {
    const html = page({ title: '<b>t</b>', runLabel: 'run "x"', indexHref: 'index.html', body: '<p>body</p>', thumbSize: 200 });
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(html.includes('<title>&lt;b&gt;t&lt;/b&gt;</title>'));
    assert.ok(html.includes('<span>run &quot;x&quot;</span>'));
    assert.ok(html.includes(`content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"`));
    assert.ok(!/<script|<link|https?:\/\/(?!www\.w3\.org)/.test(html));
  });
});
