/** WGSL shared by every program. */
export const WGSL_COMMON = /* wgsl */ `
// Dispatches wider than 65535 workgroups are folded into 2-D grids (see Gpu.dispatch);
// this recovers the linear workgroup index.
fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.y * nwg.x + wid.x; }
// OpenCV saturate_cast: round half to even, clamp to the integer range.
fn sat_u8(v: f32) -> u32 { return u32(clamp(round(v), 0.0, 255.0)); }
fn sat_u16(v: f32) -> u32 { return u32(clamp(round(v), 0.0, 65535.0)); }
fn sat_i32(v: f32) -> i32 {
  if (v != v) { return 0; }
  return i32(clamp(round(v), -2147483648.0, 2147483520.0));
}
`;
