/** The dashboard page at `/` (dashboard-page.ts): plain HTML and JavaScript over the JSON routes, no build step. */
import type { FastifyInstance } from 'fastify';
import { DASHBOARD_HTML } from './dashboard-page.js';

export async function dashboardPlugin(app: FastifyInstance): Promise<void> {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(DASHBOARD_HTML));
}
