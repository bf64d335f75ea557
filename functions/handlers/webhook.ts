/**
 * POST /webhooks/calendly/{hookKey} — thin: raw bytes and the signature header in, the ingest
 * flow's answer out. `makeWebhookHandler(deps)` is what tests drive; `handler` wires it from
 * the environment once per container.
 */
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { connectionStatusOf, type ConnectionStatus } from '../domain/connection.js';
import { ingestWebhook, MAX_WEBHOOK_BODY_BYTES, type ConnectionStatusReader, type IngestDeps } from '../flows/ingest.js';
import { errorResponse, json, rawBody, withErrors, type HttpEvent, type HttpResult } from '../shared/http.js';
import { createAppKeySource, SIGNATURE_HEADER } from '../shared/webhook-signature.js';
import { createMeetingStore } from '../store/meetings.js';
import { createParkedWebhookStore } from '../store/parked-webhooks.js';
import { createWebhookKeyStore } from '../store/webhook-keys.js';
import { clock, dynamo, secretBox, secrets, serviceEnv, tables } from '../wiring.js';
import { emitMetric, type CustomMetric } from '../shared/metrics.js';

export { emitMetric };

const statusOf = (item: Record<string, unknown> | undefined): ConnectionStatus | undefined => {
  const s = item?.status;
  return s === undefined ? undefined : connectionStatusOf(s);
};

/**
 * Reads only the connection's `status` (the connections item is owned by
 * functions/store/connections.ts; we never touch its tokens). `asGate` describes the same
 * consistent read as data, so the ingest flow can have it ride in the meetings store's
 * BatchGetItem instead of spending a request and a round trip of its own.
 */
export function createConnectionStatusReader(doc: DynamoDBDocumentClient, tableName: string): ConnectionStatusReader {
  const read = async (userId: string) => {
    const res = await doc.send(
      new GetCommand({
        TableName: tableName,
        Key: { userId },
        ProjectionExpression: '#s',
        ExpressionAttributeNames: { '#s': 'status' },
        ConsistentRead: true,
      }),
    );
    return statusOf(res.Item);
  };
  return Object.assign(read, {
    asGate: (userId: string) => ({ tableName, key: { userId }, attributes: ['status'], decode: statusOf }),
  });
}

function header(event: HttpEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  if (headers[name] !== undefined) return headers[name];
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

export function makeWebhookHandler(deps: IngestDeps | (() => Promise<IngestDeps>)) {
  return async (event: HttpEvent): Promise<HttpResult> =>
    withErrors(event, async () => {
      // Size first: a base64 body can be measured before decoding it.
      const encoded = event.body ?? '';
      const approxBytes = event.isBase64Encoded ? Math.floor((encoded.length * 3) / 4) : Buffer.byteLength(encoded, 'utf8');
      if (approxBytes > MAX_WEBHOOK_BODY_BYTES + 3) return errorResponse(413, 'payload_too_large', 'The webhook body is larger than 256 KiB.');
      const resolved = typeof deps === 'function' ? await deps() : deps;
      const result = await ingestWebhook(resolved, {
        hookKey: event.pathParameters?.hookKey ?? '',
        signature: header(event, SIGNATURE_HEADER),
        body: rawBody(event),
      });
      return json(result.statusCode, result.body);
    });
}

let wired: Promise<IngestDeps> | undefined;

function wire(): Promise<IngestDeps> {
  wired ??= (async () => {
    const { doc } = dynamo();
    const t = tables();
    return {
      hookKeys: createWebhookKeyStore(doc, t.webhookKeys, await secretBox()),
      connectionStatus: createConnectionStatusReader(doc, t.connections),
      appKey: createAppKeySource(secrets(), clock),
      meetings: createMeetingStore(doc, t.meetings),
      parked: createParkedWebhookStore(doc, t.parkedWebhooks),
      clock,
      toleranceSeconds: serviceEnv().WEBHOOK_TOLERANCE_SECONDS,
      metric: (name: string, value: number) => emitMetric(name as CustomMetric, value),
    };
  })().catch((err: unknown) => {
    wired = undefined;
    throw err;
  });
  return wired;
}

export const handler = makeWebhookHandler(wire);
