/**
 * Multi-tensor updates (PyTorch's foreach/fused optimizers): one program updates up to
 * MAX_PER_PASS parameters, each with its own buffers (gradient, weights, state), so an optimizer
 * step over a network is a few dispatches rather than one per parameter. Threads run over the
 * parameters' elements laid end to end; a thread finds its parameter from the start offsets in a
 * uniform and runs that parameter's copy of the update (the bindings are distinct per parameter,
 * so the body is emitted once per parameter slot).
 */
import type { ProgramInfo } from '../gpu/program.js';
import type { UniformField, UniformValue } from '../gpu/uniforms.js';
import type { Tensor } from '../tensor.js';
import { gpuOf, launchCpu, launchGpu } from './launch.js';
import { noteParameterWrite } from './autograd.js';

/** Parameters one pass updates at most (also bounded by the device's storage bindings). */
export const MAX_PER_PASS = 16;
const WG = 256;

export interface UpdateKernel {
  readonly name: string;
  readonly key: string;
  /** Per-parameter bindings read, then those read and written, in `tensors` order. */
  readonly reads: readonly string[];
  readonly writes: readonly string[];
  /** Bindings shared by all parameters (a flag, a global norm), read and written, after the parameters'. */
  readonly sharedReads?: readonly string[];
  readonly sharedWrites?: readonly string[];
  readonly uniforms: readonly UniformField[];
  /** WGSL statements updating element `i`; `at(binding)` is that binding's element i. */
  readonly body: (at: (binding: string) => string) => string;
}

const programs = new Map<string, ProgramInfo>();

/** The program updating `count` parameters in one pass. */
export function fusedUpdateProgram(kernel: UpdateKernel, count: number): ProgramInfo {
  const id = `${kernel.name}|${kernel.key}|${count}`;
  let p = programs.get(id);
  if (p) return p;
  const slots = Array.from({ length: count }, (_, k) => k);
  const cases = slots.map((k) => `    case ${k}u: {\n      ${kernel.body((b) => `${b}${k}[i]`)}\n    }`).join('\n');
  p = {
    name: kernel.name,
    key: `${kernel.key};x${count}`,
    inputs: [...slots.flatMap((k) => kernel.reads.map((b) => `${b}${k}`)), ...(kernel.sharedReads ?? [])].map((name) => ({ name, dtype: 'f32' as const })),
    outputs: [...slots.flatMap((k) => kernel.writes.map((b) => `${b}${k}`)), ...(kernel.sharedWrites ?? [])].map((name) => ({ name, dtype: 'f32' as const })),
    uniforms: [{ name: 'total', type: 'u32' }, { name: 'starts', type: { array: 'vec4u', length: Math.ceil((MAX_PER_PASS + 1) / 4) } }, ...kernel.uniforms],
    workgroupSize: WG,
    body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let e = linear_workgroup(wid, nwg) * WG + li;
  if (e >= u.total) { return; }
  var k = 0u;
  for (var j = 1u; j < ${count}u; j++) {
    if (e >= u.starts[j / 4u][j % 4u]) { k = j; }
  }
  let i = e - u.starts[k / 4u][k % 4u];
  switch k {
${cases}
    default: {}
  }
}`,
  };
  programs.set(id, p);
  return p;
}

/** Parameters one pass of `kernel` updates where `maxStorageBuffers` buffers bind (the CPU: MAX_PER_PASS). */
export function paramsPerPass(kernel: UpdateKernel, maxStorageBuffers: number | null): number {
  if (maxStorageBuffers === null) return MAX_PER_PASS;
  const shared = (kernel.sharedReads?.length ?? 0) + (kernel.sharedWrites?.length ?? 0);
  return Math.max(1, Math.min(MAX_PER_PASS, Math.floor((maxStorageBuffers - shared) / (kernel.reads.length + kernel.writes.length))));
}

/**
 * Runs `kernel` over parameters given as their tensors (reads, then writes, per parameter) and
 * the `shared` tensors (shared reads, then writes), in passes of at most MAX_PER_PASS parameters
 * (fewer where the device binds fewer storage buffers); `cpu` is the reference update of one
 * parameter's tensors.
 */
export function runFusedUpdate(
  kernel: UpdateKernel,
  params: readonly (readonly Tensor[])[],
  uniforms: Record<string, UniformValue>,
  cpu: (tensors: readonly Tensor[]) => void,
  shared: readonly Tensor[] = [],
): void {
  noteParameterWrite();
  const gpu = gpuOf(params[0]![0]!);
  const perPass = paramsPerPass(kernel, gpu ? gpu.info.limits.maxStorageBuffersPerShaderStage! : null);
  const sharedReads = kernel.sharedReads?.length ?? 0;
  for (let first = 0; first < params.length; first += perPass) {
    const pass = params.slice(first, first + perPass);
    if (!gpu) {
      launchCpu();
      for (const tensors of pass) cpu(tensors);
      continue;
    }
    const starts: number[] = [0];
    for (const tensors of pass) starts.push(starts.at(-1)! + tensors[0]!.size);
    const total = starts.at(-1)!;
    launchGpu(gpu, {
      program: fusedUpdateProgram(kernel, pass.length),
      inputs: [...pass.flatMap((tensors) => tensors.slice(0, kernel.reads.length)), ...shared.slice(0, sharedReads)].map((t) => t.gpu.ref),
      outputs: [...pass.flatMap((tensors) => tensors.slice(kernel.reads.length)), ...shared.slice(sharedReads)].map((t) => t.gpu.ref),
      uniforms: { ...uniforms, total, starts },
      workgroups: Math.ceil(total / WG),
    });
  }
}
