/**
 * A minimal HTTP front for the real webhook handler, so the sandbox's deliveries (probe bookings)
 * land through ingest exactly as they would behind API Gateway. Only POST
 * /webhooks/calendly/{hookKey} is served; the handler is bound after the harness exists.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpEvent, HttpResult } from '../../functions/edge/http.js';
import { httpEvent } from './harness.js';

export async function startWebhookServer(): Promise<{
  url: string;
  bind(handler: (e: HttpEvent) => Promise<HttpResult>): void;
  close(): Promise<void>;
}> {
  let handler: ((e: HttpEvent) => Promise<HttpResult>) | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const m = /^\/webhooks\/calendly\/([^/]+)$/.exec(path);
      if (!handler || !m || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const event = httpEvent({ method: 'POST', path, body: Buffer.concat(chunks).toString('utf8'), headers, pathParameters: { hookKey: decodeURIComponent(m[1] as string) } });
      handler(event).then(
        (r) => {
          res.writeHead(r.statusCode ?? 200, (r.headers ?? {}) as Record<string, string>).end(r.body ?? '');
        },
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bind(h) {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
