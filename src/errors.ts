/**
 * Every error kensa throws is a KensaError with a stable code. The catalog below is mirrored
 * in docs/errors.md (test/errors.test.ts keeps the two in sync), so users can look codes up.
 */

export const ERROR_CODES = {
  KENSA_ERR_INVALID_ARGUMENT: 'An argument is outside what the function accepts.',
  KENSA_ERR_SHAPE: 'A tensor has the wrong rank or dimensions for the operation.',
  KENSA_ERR_DTYPE: 'A tensor has a data type the operation does not accept.',
  KENSA_ERR_DEVICE_MISMATCH: 'Tensors of one operation live on different devices.',
  KENSA_ERR_NO_ADAPTER: 'No WebGPU adapter matched the request.',
  KENSA_ERR_GPU_VALIDATION: 'WebGPU rejected a command (a kensa bug or an exceeded device limit).',
  KENSA_ERR_GPU_OUT_OF_MEMORY: 'The GPU could not allocate memory.',
  KENSA_ERR_DEVICE_LOST: 'The GPU device was lost (driver reset, removal, or destroy); open a new one.',
  KENSA_ERR_DISPOSED: 'A tensor or device was used after it was disposed.',
  KENSA_ERR_NOT_CONTIGUOUS: 'A strided view (slice, permute) was given where contiguous data is needed; call contiguous() first.',
  KENSA_ERR_SHADER: 'A WGSL program failed to compile.',
  KENSA_ERR_DECODE: 'An image file could not be read or decoded (corrupt, truncated, unsupported or over the pixel limit).',
  KENSA_ERR_JPEG_UNSUPPORTED:
    "A JPEG uses a feature kensa's own decoder (src/ops/jpeg) does not support: progressive, arithmetic-coded, lossless, 12-bit, several scans, CMYK, RGB, an embedded ICC profile, or chroma sampling other than 4:4:4, 4:2:2, 4:4:0 and 4:2:0; decode it with sharp instead.",
  KENSA_ERR_WEIGHTS:
    'A weights file (safetensors) is not valid or does not fit the model: truncated, a bad header, a tensor missing or of the wrong shape; the message names the file and the tensor.',
  KENSA_ERR_RECIPE: 'A recipe file is not valid; the message points at the bad field.',
  KENSA_ERR_AUGMENT: 'An augmentation pipeline file or replayed parameters are not valid; the message names the bad field.',
  KENSA_ERR_JOB_FILE: 'A job file (kensa inspect --job) is not valid; the message names the field, what it expects and what it received.',
  KENSA_ERR_STORE:
    'A database operation failed (unreachable server, lost connection, locked or unwritable file); the message names the backend and the operation.',
  KENSA_ERR_TUNE_DATA: 'kensa tune cannot use its images: a truth mask missing, a size mismatch, an empty folder; the message names them.',
  KENSA_ERR_TUNE_STATE: 'A tuning state file belongs to another search (other data, recipe, seed or options); the message names it.',
  KENSA_ERR_TRAIN_DATA:
    'kensa train cannot use its data or run folder: an empty folder, an image without a mask, a mask of another size or not binary, a crop larger than an image, a run folder without a checkpoint; the message names the file or option.',
  KENSA_ERR_AUGMENT_DATA:
    'kensa augment or the augmentation loader cannot use an input: a missing folder, a mask missing or of another size, a bad boxes file; the message names it.',
  KENSA_ERR_MODEL:
    'An ONNX model cannot be loaded or run as asked: no execution provider works, or its input or outputs do not fit the model kind; the message names the model and what does not fit.',
  KENSA_ERR_WORKER: 'A worker thread threw or stopped while detecting a batch; the message names the stage and the cause.',
  KENSA_ERR_OVERLOADED: "kensa serve's queue for the recipe is full; retry after the seconds its Retry-After header gives.",
  KENSA_ERR_RATE_LIMITED: 'A client sent more requests to kensa serve than its rate limit allows; retry after the seconds its Retry-After header gives.',
  KENSA_ERR_DEADLINE: "A request's deadline (X-Deadline-Ms) passed before its image reached the device; it was not inspected.",
  KENSA_ERR_UNAUTHORIZED: 'A request to kensa serve lacks the bearer token the server requires (Authorization: Bearer TOKEN), or gives another one.',
  KENSA_ERR_BAD_REQUEST:
    'An HTTP request to kensa serve is malformed: a body, content type, query or header outside what the route accepts; the message names it.',
  KENSA_ERR_NOT_FOUND: 'An HTTP request to kensa serve names a route, run or item that does not exist.',
  KENSA_ERR_INTERNAL: 'An internal consistency check failed: a kensa bug; please report it with the message.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class KensaError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KensaError';
    this.code = code;
  }
}

/** A parser's error in one line: its first (YAML's names the place), without the colon that led into its code frame. */
export function parseErrorLine(e: unknown): string {
  return (e as Error).message.split('\n')[0]!.replace(/:\s*$/, '');
}

export function isKensaError(e: unknown, code?: ErrorCode): e is KensaError {
  return e instanceof KensaError && (code === undefined || e.code === code);
}
