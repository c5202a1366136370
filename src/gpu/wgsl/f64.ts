/**
 * IEEE-754 binary64 arithmetic in WGSL (which has no f64), bit-exact with the CPU's doubles for
 * the operations Otsu's search needs: add, sub, mul, div (round to nearest even), compare, and
 * exact conversion of u32 / u64 integers. A double is `vec2<u32>(low word, high word)` of its bits.
 * Limits (never reached by Otsu's search on images under 2^23 pixels a plane): finite values
 * only, and results below the normal range (|v| < 2^-1022) flush to zero instead of becoming
 * subnormal.
 */
export const WGSL_F64 = /* wgsl */ `
fn u64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let lo = a.x + b.x;
  return vec2<u32>(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}
fn u64_sub(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  return vec2<u32>(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}
fn u64_lt(a: vec2<u32>, b: vec2<u32>) -> bool { return a.y < b.y || (a.y == b.y && a.x < b.x); }
fn u64_shl(a: vec2<u32>, s: u32) -> vec2<u32> {
  if (s == 0u) { return a; }
  if (s >= 32u) { return vec2<u32>(0u, a.x << (s - 32u)); }
  return vec2<u32>(a.x << s, (a.y << s) | (a.x >> (32u - s)));
}
// Right shift; any bit shifted out is ORed into bit 0 (sticky).
fn u64_shr_sticky(a: vec2<u32>, s: u32) -> vec2<u32> {
  if (s == 0u) { return a; }
  if (s >= 64u) { return vec2<u32>(select(0u, 1u, a.x != 0u || a.y != 0u), 0u); }
  var r: vec2<u32>;
  var lost: u32;
  if (s >= 32u) {
    let t = s - 32u;
    r = vec2<u32>(a.y >> t, 0u);
    lost = a.x | select(0u, a.y << ((32u - t) & 31u), t > 0u);
  } else {
    r = vec2<u32>((a.x >> s) | (a.y << (32u - s)), a.y >> s);
    lost = a.x << (32u - s);
  }
  r.x = r.x | select(0u, 1u, lost != 0u);
  return r;
}
// 32 x 32 -> 64-bit product.
fn u32_mul_wide(a: u32, b: u32) -> vec2<u32> {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return vec2<u32>((p00 & 0xffffu) | (mid << 16u), p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}
fn f64_exp(a: vec2<u32>) -> i32 { return i32((a.y >> 20u) & 0x7ffu); }
// Significand with the implicit bit (bit 52); zero for zeros.
fn f64_sig(a: vec2<u32>) -> vec2<u32> {
  if (f64_exp(a) == 0) { return vec2<u32>(0u, 0u); }
  return vec2<u32>(a.x, (a.y & 0xfffffu) | 0x100000u);
}
// m has its leading one at bit 62 (value m / 2^62 * 2^(e - 1023)); sticky bits below bit 10.
fn f64_round_pack(s: u32, e_in: i32, m_in: vec2<u32>) -> vec2<u32> {
  var e = e_in;
  let rem = m_in.x & 0x3ffu;
  var m = vec2<u32>((m_in.x >> 10u) | (m_in.y << 22u), m_in.y >> 10u);
  if (rem > 0x200u || (rem == 0x200u && (m.x & 1u) == 1u)) {
    m = u64_add(m, vec2<u32>(1u, 0u));
    if (m.y == 0x200000u) {
      m = vec2<u32>(0u, 0x100000u);
      e += 1;
    }
  }
  if (e <= 0) { return vec2<u32>(0u, s << 31u); }
  return vec2<u32>(m.x, (s << 31u) | (u32(e) << 20u) | (m.y & 0xfffffu));
}
// Normalises a nonzero m (value m / 2^62 * 2^(e - 1023)) and rounds.
fn f64_norm(s: u32, e: i32, m: vec2<u32>) -> vec2<u32> {
  let lz = i32(select(32u + countLeadingZeros(m.x), countLeadingZeros(m.y), m.y != 0u));
  if (lz == 0) { return f64_round_pack(s, e + 1, u64_shr_sticky(m, 1u)); }
  return f64_round_pack(s, e - (lz - 1), u64_shl(m, u32(lz - 1)));
}
fn f64_from_u64(v: vec2<u32>) -> vec2<u32> {
  if (v.x == 0u && v.y == 0u) { return vec2<u32>(0u, 0u); }
  return f64_norm(0u, 1085, v);
}
fn f64_from_u32(v: u32) -> vec2<u32> { return f64_from_u64(vec2<u32>(v, 0u)); }
fn f64_neg(a: vec2<u32>) -> vec2<u32> { return vec2<u32>(a.x, a.y ^ 0x80000000u); }
fn f64_mul(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let s = (a.y ^ b.y) >> 31u;
  let ea = f64_exp(a);
  let eb = f64_exp(b);
  if (ea == 0 || eb == 0) { return vec2<u32>(0u, s << 31u); }
  let ma = u64_shl(f64_sig(a), 11u);
  let mb = u64_shl(f64_sig(b), 11u);
  let ll = u32_mul_wide(ma.x, mb.x);
  let lh = u32_mul_wide(ma.x, mb.y);
  let hl = u32_mul_wide(ma.y, mb.x);
  let hh = u32_mul_wide(ma.y, mb.y);
  // w1 = ll.y + lh.x + hl.x, carries into w2
  var t = ll.y + lh.x;
  var c = select(0u, 1u, t < ll.y);
  let w1 = t + hl.x;
  c += select(0u, 1u, w1 < t);
  // w2 = hh.x + lh.y + hl.y + c, carries into w3
  t = hh.x + lh.y;
  var c2 = select(0u, 1u, t < hh.x);
  var t2 = t + hl.y;
  c2 += select(0u, 1u, t2 < t);
  let w2 = t2 + c;
  c2 += select(0u, 1u, w2 < t2);
  let w3 = hh.y + c2;
  var m = vec2<u32>(w2, w3);
  if (ll.x != 0u || w1 != 0u) { m.x = m.x | 1u; }
  return f64_norm(s, ea + eb - 1023, m);
}
fn f64_add(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  var ea = f64_exp(a);
  var eb = f64_exp(b);
  if (eb == 0) { return select(a, vec2<u32>(0u, 0u), ea == 0); }
  if (ea == 0) { return b; }
  var x = a;
  var y = b;
  var mx = f64_sig(a);
  var my = f64_sig(b);
  if (ea < eb || (ea == eb && u64_lt(mx, my))) {
    x = b; y = a;
    let te = ea; ea = eb; eb = te;
    let tm = mx; mx = my; my = tm;
  }
  let s = x.y >> 31u;
  let big = u64_shl(mx, 9u);
  let small = u64_shr_sticky(u64_shl(my, 9u), u32(ea - eb));
  if ((x.y >> 31u) == (y.y >> 31u)) { return f64_norm(s, ea + 1, u64_add(big, small)); }
  let d = u64_sub(big, small);
  if (d.x == 0u && d.y == 0u) { return vec2<u32>(0u, 0u); }
  return f64_norm(s, ea + 1, d);
}
fn f64_sub(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> { return f64_add(a, f64_neg(b)); }
fn f64_div(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
  let s = (a.y ^ b.y) >> 31u;
  let ea = f64_exp(a);
  let eb = f64_exp(b);
  if (ea == 0 || eb == 0) { return vec2<u32>(0u, s << 31u); }
  var r = f64_sig(a);
  let d = f64_sig(b);
  var e = ea - eb + 1023;
  if (u64_lt(r, d)) { r = u64_shl(r, 1u); e -= 1; }
  var q = vec2<u32>(0u, 0u);
  for (var i = 0u; i < 63u; i++) {
    q = u64_shl(q, 1u);
    if (!u64_lt(r, d)) { r = u64_sub(r, d); q.x = q.x | 1u; }
    r = u64_shl(r, 1u);
  }
  if (r.x != 0u || r.y != 0u) { q.x = q.x | 1u; }
  return f64_norm(s, e, q);
}
fn f64_lt(a: vec2<u32>, b: vec2<u32>) -> bool {
  let az = f64_exp(a) == 0;
  let bz = f64_exp(b) == 0;
  if (az && bz) { return false; }
  let sa = !az && (a.y >> 31u) == 1u;
  let sb = !bz && (b.y >> 31u) == 1u;
  if (sa != sb) { return sa; }
  let ma = select(vec2<u32>(a.x, a.y & 0x7fffffffu), vec2<u32>(0u, 0u), az);
  let mb = select(vec2<u32>(b.x, b.y & 0x7fffffffu), vec2<u32>(0u, 0u), bz);
  if (sa) { return u64_lt(mb, ma); }
  return u64_lt(ma, mb);
}
`;

/** Bits of a JS double as the WGSL representation [low word, high word]. */
export function f64Bits(v: number): [number, number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, v, true);
  return [view.getUint32(0, true), view.getUint32(4, true)];
}
