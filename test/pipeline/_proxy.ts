/**
 * A TCP proxy in front of a database server, to cut it off as a network outage would: `block()`
 * resets every open connection and refuses new ones until `unblock()`.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';

export interface DatabaseProxy {
  /** The target URL with host and port of the proxy. */
  url: string;
  block(): Promise<void>;
  unblock(): Promise<void>;
  close(): Promise<void>;
}

export async function startProxy(targetUrl: string): Promise<DatabaseProxy> {
  const target = new URL(targetUrl);
  const targetPort = Number(target.port);
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  let server: Server;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(targetPort, target.hostname);
        track(client);
        track(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  const port = await listen(0);
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  const stop = async () => {
    for (const s of sockets) s.resetAndDestroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    url: url.toString(),
    block: stop,
    unblock: async () => {
      await listen(port);
    },
    close: stop,
  };
}
