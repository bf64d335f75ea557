/**
 * A PutEvents endpoint on 127.0.0.1 over the local runtime's in-process bus (local/events.ts), so
 * the bench publishes Meeting Changed events through the production EventBridge adapter over real
 * HTTP, as the local runtime's handlers do. Counts the PutEvents requests it answers.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEventBridgePublisher } from '../../functions/adapters/eventbridge.js';
import type { MeetingEventPublisher } from '../../functions/ports.js';
import { LOCAL_EVENT_BUS_NAME, LocalEventBus, putEvents } from '../../local/events.js';

export interface BenchEventBus {
  bus: LocalEventBus;
  publisher: MeetingEventPublisher;
  /** PutEvents requests answered so far. */
  requests(): number;
  close(): Promise<void>;
}

export async function startBenchEventBus(): Promise<BenchEventBus> {
  const bus = new LocalEventBus(100_000);
  let requests = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const out = putEvents(bus, JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      res.writeHead(out.status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(out.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    bus,
    publisher: createEventBridgePublisher({ busName: LOCAL_EVENT_BUS_NAME, endpoint }),
    requests: () => requests,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
