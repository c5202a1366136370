export type Part = [name: string, value: string] | [name: string, bytes: Buffer, type: string, filename: string];

/** A multipart/form-data body (as a browser's FormData sends it) and its Content-Type. */
export async function form(parts: Part[]): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const fd = new FormData();
  for (const p of parts) {
    if (p.length === 2) fd.append(p[0], p[1]);
    else fd.append(p[0], new Blob([p[1]], { type: p[2] }), p[3]);
  }
  const r = new Response(fd);
  return { payload: Buffer.from(await r.arrayBuffer()), headers: { 'content-type': r.headers.get('content-type')! } };
}
