import { createHmac } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { HttpEvent } from '../../functions/edge/http.js';

export const API = 'https://api.calendly.com';
export const eventUri = (ev: string) => `${API}/scheduled_events/${ev}`;
export const inviteeUri = (ev: string, inv: string) => `${API}/scheduled_events/${ev}/invitees/${inv}`;

/** Calendly-style timestamp (microseconds) minutes after a fixed base. */
export const at = (minutes: number) => {
  const d = new Date(Date.parse('2026-05-01T10:00:00Z') + minutes * 60_000);
  return d.toISOString().replace('Z', '000Z');
};

export interface InviteeOpts {
  ev: string;
  inv: string;
  status?: 'active' | 'canceled';
  updatedAt: string;
  createdAt?: string;
  email?: string;
  rescheduled?: boolean;
  oldInvitee?: string | null;
  newInvitee?: string | null;
  noShow?: { uri: string; created_at: string } | null;
  /** Embedded scheduled_event; omit for the older payload shape. */
  event?: { status?: 'active' | 'canceled'; updatedAt: string; startTime?: string; endTime?: string; name?: string } | null;
}

export function inviteePayload(o: InviteeOpts): Record<string, unknown> {
  const status = o.status ?? 'active';
  const start = o.event?.startTime ?? '2026-06-01T15:00:00.000000Z';
  return {
    uri: inviteeUri(o.ev, o.inv),
    event: eventUri(o.ev),
    email: o.email ?? `${o.inv}@example.com`,
    name: `Person ${o.inv}`,
    first_name: null,
    last_name: null,
    status,
    timezone: 'Europe/Paris',
    created_at: o.createdAt ?? at(0),
    updated_at: o.updatedAt,
    cancel_url: `https://calendly.com/cancellations/${o.inv}`,
    reschedule_url: `https://calendly.com/reschedulings/${o.inv}`,
    rescheduled: o.rescheduled ?? false,
    old_invitee: o.oldInvitee ?? null,
    new_invitee: o.newInvitee ?? null,
    questions_and_answers: [],
    tracking: { utm_source: null },
    text_reminder_number: null,
    routing_form_submission: null,
    cancellation: status === 'canceled' ? { canceled_by: `Person ${o.inv}`, reason: 'conflict', canceler_type: 'invitee', created_at: o.updatedAt } : undefined,
    payment: null,
    no_show: o.noShow ?? null,
    reconfirmation: null,
    scheduling_method: null,
    invitee_scheduled_by: null,
    ...(o.event
      ? {
          scheduled_event: {
            uri: eventUri(o.ev),
            name: o.event.name ?? '30 Minute Meeting',
            status: o.event.status ?? 'active',
            start_time: start,
            end_time: o.event.endTime ?? new Date(Date.parse(start) + 30 * 60_000).toISOString(),
            event_type: `${API}/event_types/ET1`,
            location: { type: 'google_conference', join_url: `https://meet.example.com/${o.ev}`, status: 'pushed' },
            invitees_counter: { total: 1, active: 1, limit: 1 },
            created_at: at(0),
            updated_at: o.event.updatedAt,
            event_memberships: [{ user: `${API}/users/U1` }],
            event_guests: [],
            ...(o.event.status === 'canceled' ? { cancellation: { canceled_by: 'Host', reason: 'sick', canceler_type: 'host', created_at: o.event.updatedAt } } : {}),
          },
        }
      : {}),
  };
}

export function envelope(event: string, payload: Record<string, unknown>, createdAt = at(100)): string {
  return JSON.stringify({ event, created_at: createdAt, created_by: `${API}/users/U1`, payload });
}

export function sign(key: string, t: number, body: string | Buffer): string {
  return `t=${t},v1=${createHmac('sha256', key).update(`${t}.`).update(body).digest('hex')}`;
}

export function webhookEvent(hookKey: string, body: string | Buffer, headers: Record<string, string> = {}): HttpEvent {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  return {
    version: '2.0',
    routeKey: 'POST /webhooks/calendly/{hookKey}',
    rawPath: `/webhooks/calendly/${hookKey}`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    pathParameters: { hookKey },
    isBase64Encoded: true,
    body: buf.toString('base64'),
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'POST', path: `/webhooks/calendly/${hookKey}`, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'Calendly-Webhooks' },
      requestId: `req-${Math.random().toString(36).slice(2)}`,
      routeKey: 'POST /webhooks/calendly/{hookKey}',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
  } as unknown as HttpEvent;
}

export function meetingsEvent(userId: string | undefined, query: Record<string, string> = {}): HttpEvent {
  return {
    version: '2.0',
    routeKey: 'GET /meetings',
    rawPath: '/meetings',
    rawQueryString: new URLSearchParams(query).toString(),
    headers: {},
    queryStringParameters: Object.keys(query).length ? query : undefined,
    isBase64Encoded: false,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'GET', path: '/meetings', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: `req-${Math.random().toString(36).slice(2)}`,
      routeKey: 'GET /meetings',
      stage: '$default',
      time: '',
      timeEpoch: 0,
      ...(userId ? { authorizer: { jwt: { claims: { sub: userId }, scopes: [] } } } : {}),
    },
  } as unknown as HttpEvent;
}

const WRITE_COMMANDS = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'PutCommand', 'UpdateCommand', 'DeleteCommand', 'BatchWriteCommand']);

/** Counts every command sent through a client (the Document client shares the raw stack). */
export function countRequests(raw: DynamoDBClient) {
  const log: Array<{ command: string; table?: string }> = [];
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TableName?: string; RequestItems?: Record<string, unknown> };
      log.push({ command: String(context.commandName), table: input.TableName ?? Object.keys(input.RequestItems ?? {})[0] });
      return next(args);
    },
    { step: 'initialize', name: 'countRequestsForTest' },
  );
  return {
    log,
    reset: () => void log.splice(0),
    writes: (table?: string) => log.filter((l) => WRITE_COMMANDS.has(l.command) && (!table || l.table === table)).length,
    total: () => log.length,
  };
}
