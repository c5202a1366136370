/**
 * Probes and metrics: `/health` answers 200 while the process serves (liveness); `/ready` 200
 * only once every recipe is open and warmed for the configured sizes, 503 before (readiness: a
 * load balancer sends no traffic to a server still compiling its pipelines); `/metrics` is the
 * Prometheus text of the server's registry.
 */
import type { FastifyInstance } from 'fastify';

const statusSchema = { type: 'object', properties: { status: { type: 'string' } } } as const;

export async function healthPlugin(app: FastifyInstance): Promise<void> {
  const context = app.kensa;
  app.get('/health', { schema: { summary: 'Liveness', response: { 200: statusSchema } } }, async () => ({ status: 'ok' }));
  app.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: 200 once every recipe is open and warmed, 503 before',
        response: { 200: statusSchema, 503: statusSchema },
      },
    },
    async (_request, reply) => (context.ready ? { status: 'ready' } : reply.code(503).send({ status: 'warming' })),
  );
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_request, reply) => {
    reply.type(context.metrics.registry.contentType);
    return context.metrics.registry.metrics();
  });
}
