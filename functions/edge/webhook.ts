/**
 * POST /webhooks/calendly/{hookKey} — thin: raw bytes and the signature header in, the ingest
 * flow's answer out.
 */
import type { Context } from 'aws-lambda';
import { ingestWebhook, MAX_WEBHOOK_BODY_BYTES, type IngestDeps } from '../flows/ingest.js';
import { errorResponse, json, rawBody, withErrors, type HttpEvent, type HttpResult } from './http.js';
import { SIGNATURE_HEADER } from '../shared/webhook-signature.js';

function header(event: HttpEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  if (headers[name] !== undefined) return headers[name];
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

export function makeWebhookHandler(deps: IngestDeps | (() => Promise<IngestDeps>)) {
  return async (event: HttpEvent, context?: Context): Promise<HttpResult> =>
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
    }, context, 'webhook');
}
