/**
 * Batched matrix product C[b] = op(A[b]) · op(B[b]) in f32 on SIMT cores: a workgroup of 16×16
 * threads computes a 64×64 tile of C, each thread a 4×4 block of it in registers, staging 16-deep
 * slices of A and B in workgroup memory. A and B are read through strides (transposes and a batch
 * of 1 broadcast over the other's batch cost nothing); C is contiguous [batch, M, N]. The CPU
 * reference accumulates in f64 (the GPU in f32: within K·ulp of it).
 */
import { KensaError } from '../errors.js';
import type { ProgramInfo } from '../gpu/program.js';
import type { Tensor } from '../tensor.js';
import { cpuStorage, emptyOn, gpuOf, launchCpu, launchGpu } from './launch.js';

const TILE = 64;
const DEPTH = 16;

/** How a matrix operand is read: element (batch, row, col) of op(X) at offset + batch·bs + row·rs + col·cs. */
export interface MatrixLayout {
  offset: number;
  bs: number;
  rs: number;
  cs: number;
}

let program: ProgramInfo | undefined;

export function matmulProgram(): ProgramInfo {
  program ??= {
    name: 'nn_matmul',
    key: `simt${TILE}x${TILE}x${DEPTH}`,
    inputs: [
      { name: 'a', dtype: 'f32' },
      { name: 'b', dtype: 'f32' },
    ],
    outputs: [{ name: 'c', dtype: 'f32' }],
    uniforms: [
      { name: 'M', type: 'u32' },
      { name: 'N', type: 'u32' },
      { name: 'K', type: 'u32' },
      { name: 'a_offset', type: 'u32' },
      { name: 'a_bs', type: 'u32' },
      { name: 'a_rs', type: 'u32' },
      { name: 'a_cs', type: 'u32' },
      { name: 'b_offset', type: 'u32' },
      { name: 'b_bs', type: 'u32' },
      { name: 'b_rs', type: 'u32' },
      { name: 'b_cs', type: 'u32' },
    ],
    workgroupSize: 256,
    body: /* wgsl */ `
const TILE: u32 = ${TILE}u;
const DEPTH: u32 = ${DEPTH}u;
// k-major slices: As[k * TILE + m], Bs[k * TILE + n]
var<workgroup> As: array<f32, ${TILE * DEPTH}>;
var<workgroup> Bs: array<f32, ${TILE * DEPTH}>;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let batch = wid.z;
  let m0 = wid.y * TILE;
  let n0 = wid.x * TILE;
  let tx = li % 16u;
  let ty = li / 16u;
  let a_base = u.a_offset + batch * u.a_bs;
  let b_base = u.b_offset + batch * u.b_bs;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < u.K; k0 += DEPTH) {
    for (var l = 0u; l < 4u; l++) {
      let e = li + l * WG;
      // A: neighbouring threads walk k (row-major A reads consecutive words)
      let ak = e % DEPTH;
      let am = e / DEPTH;
      var av = 0.0;
      if (m0 + am < u.M && k0 + ak < u.K) { av = a[a_base + (m0 + am) * u.a_rs + (k0 + ak) * u.a_cs]; }
      As[ak * TILE + am] = av;
      // B: neighbouring threads walk n
      let bn = e % TILE;
      let bk = e / TILE;
      var bv = 0.0;
      if (n0 + bn < u.N && k0 + bk < u.K) { bv = b[b_base + (k0 + bk) * u.b_rs + (n0 + bn) * u.b_cs]; }
      Bs[bk * TILE + bn] = bv;
    }
    workgroupBarrier();
    for (var k = 0u; k < DEPTH; k++) {
      var ar: array<f32, 4>;
      var br: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        ar[i] = As[k * TILE + ty + 16u * i];
        br[i] = Bs[k * TILE + tx + 16u * i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] = fma(ar[i], br[j], acc[i * 4u + j]); }
      }
    }
    workgroupBarrier();
  }
  let c_base = batch * u.M * u.N;
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + tx + 16u * j;
      if (m < u.M && n < u.N) { c[c_base + m * u.N + n] = acc[i * 4u + j]; }
    }
  }
}`,
  };
  return program;
}

/** The CPU reference over numeric arrays: c[b, m, n] = Σ_k a(b, m, k) · b(b, k, n), c contiguous. */
export function cpuMatmul(
  a: ArrayLike<number>,
  la: MatrixLayout,
  b: ArrayLike<number>,
  lb: MatrixLayout,
  c: { [i: number]: number },
  dims: { batch: number; M: number; N: number; K: number },
): void {
  const { batch, M, N, K } = dims;
  for (let z = 0; z < batch; z++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        const ab = la.offset + z * la.bs + m * la.rs;
        const bb = lb.offset + z * lb.bs + n * lb.cs;
        for (let k = 0; k < K; k++) s += a[ab + k * la.cs]! * b[bb + k * lb.rs]!;
        c[(z * M + m) * N + n] = s;
      }
    }
  }
}

/**
 * op(a) · op(b) for 3-D f32 tensors a [Ba, ·, ·] and b [Bb, ·, ·] (Ba, Bb equal, or one of them 1
 * and broadcast); `transA`/`transB` read the operand transposed. Returns [max(Ba, Bb), M, N].
 * Shapes are the caller's to check (nn's matmul names them in its errors).
 */
export function runMatmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const [ba, ar, ac] = a.shape as [number, number, number];
  const [bb, br, bc] = b.shape as [number, number, number];
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const N = transB ? br : bc;
  if ((transB ? bc : br) !== K) throw new KensaError('KENSA_ERR_INTERNAL', `matmul: inner sizes ${K} and ${transB ? bc : br}`);
  const batch = Math.max(ba, bb);
  const layout = (t: Tensor, trans: boolean, batches: number): MatrixLayout => {
    const [s0, s1, s2] = t.strides as [number, number, number];
    return { offset: t.offset, bs: batches === 1 ? 0 : s0, rs: trans ? s2 : s1, cs: trans ? s1 : s2 };
  };
  const la = layout(a, transA, ba);
  const lb = layout(b, transB, bb);
  const c = emptyOn(a, [batch, M, N]);
  const gpu = gpuOf(a);
  if (!gpu) {
    launchCpu();
    cpuMatmul(cpuStorage(a), la, cpuStorage(b), lb, cpuStorage(c), { batch, M, N, K });
    return c;
  }
  const ref = (t: Tensor) => {
    const s = t.storage;
    if (!('ref' in s))
      throw new KensaError('KENSA_ERR_DEVICE_MISMATCH', 'Expected both operands of matmul on one device but received tensors on different devices');
    return s.ref;
  };
  launchGpu(gpu, {
    program: matmulProgram(),
    inputs: [ref(a), ref(b)],
    outputs: [c.gpu.ref],
    uniforms: {
      M,
      N,
      K,
      a_offset: la.offset,
      a_bs: la.bs,
      a_rs: la.rs,
      a_cs: la.cs,
      b_offset: lb.offset,
      b_bs: lb.bs,
      b_rs: lb.rs,
      b_cs: lb.cs,
    },
    workgroups: [Math.ceil(N / TILE), Math.ceil(M / TILE), batch],
  });
  return c;
}

export function matmulPrograms(): ProgramInfo[] {
  return [matmulProgram()];
}
