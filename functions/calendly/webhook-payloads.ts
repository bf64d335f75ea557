/**
 * zod schemas for Calendly webhook deliveries (invitee.created, invitee.canceled and the no-show
 * events) and their conversion
 * into MeetingUpdates. Deliberately tolerant: most payload fields are optional or nullable,
 * unknown fields pass through, and older payloads without the embedded `scheduled_event` are
 * accepted (then only invitee-level facts are applied). What we cannot do without: the
 * invitee URI, a way to name the scheduled event, and parseable timestamps where present.
 */
import * as z from 'zod';
import { eventIdOf, type MeetingUpdate } from '../domain/meeting/index.js';

const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO-8601 timestamp');
const uri = z.string().min(1).max(2048);
const optText = z.string().max(10_000).nullish();
const optTimestamp = timestamp.nullish();
const statusValue = z.enum(['active', 'canceled']);

export const envelopeSchema = z.looseObject({
  event: z.string().min(1).max(200),
  created_at: timestamp,
  created_by: z.string().nullish(),
  payload: z.record(z.string(), z.unknown()),
});

const cancellationSchema = z.looseObject({
  canceled_by: optText,
  reason: optText,
  canceler_type: optText,
  created_at: optTimestamp,
});

const locationSchema = z.looseObject({
  type: z.string().max(200),
  location: optText,
  join_url: optText,
});

export const embeddedEventSchema = z.looseObject({
  uri,
  name: optText,
  status: statusValue.nullish(),
  start_time: optTimestamp,
  end_time: optTimestamp,
  location: locationSchema.nullish(),
  cancellation: cancellationSchema.nullish(),
  created_at: optTimestamp,
  updated_at: optTimestamp,
});

const noShowSchema = z.looseObject({ uri, created_at: timestamp });

/** invitee.created / invitee.canceled, and (invitee-shaped) invitee_no_show.* payloads. */
export const inviteePayloadSchema = z.looseObject({
  uri,
  event: uri.nullish(),
  email: optText,
  name: optText,
  status: statusValue.nullish(),
  created_at: optTimestamp,
  updated_at: optTimestamp,
  cancel_url: optText,
  reschedule_url: optText,
  rescheduled: z.boolean().nullish(),
  old_invitee: uri.nullish(),
  new_invitee: uri.nullish(),
  cancellation: cancellationSchema.nullish(),
  no_show: noShowSchema.nullish(),
  scheduled_event: embeddedEventSchema.nullish(),
});

/** The InviteeNoShow resource shape `{uri, invitee, created_at}`, in case no-show payloads use it. */
export const noShowResourceSchema = z.looseObject({ uri, invitee: uri, created_at: optTimestamp });

export const HANDLED_EVENTS = ['invitee.created', 'invitee.canceled', 'invitee_no_show.created', 'invitee_no_show.deleted'] as const;
export type HandledEvent = (typeof HANDLED_EVENTS)[number];
export const isHandledEvent = (name: string): name is HandledEvent => (HANDLED_EVENTS as readonly string[]).includes(name);

/** `…/scheduled_events/{event}/invitees/{invitee}` → the scheduled event URI. */
function eventUriFromInviteeUri(inviteeUri: string): string | undefined {
  const m = /^(.*\/scheduled_events\/[^/]+)\/invitees\/[^/]+\/?$/.exec(inviteeUri);
  return m?.[1];
}

export type ParsedDelivery =
  | { kind: 'ignored'; event: string }
  | { kind: 'update'; event: HandledEvent; update: MeetingUpdate }
  | { kind: 'invalid'; reason: string };

const firstIssue = (e: z.ZodError): string => {
  const i = e.issues[0];
  return i ? `${i.path.join('.') || '(root)'}: ${i.message}` : 'invalid';
};

const cancellationOf = (c: z.infer<typeof cancellationSchema> | null | undefined) =>
  c
    ? { canceledBy: c.canceled_by ?? null, reason: c.reason ?? null, cancelerType: c.canceler_type ?? null, createdAt: c.created_at ?? null }
    : null;

/**
 * Parses a raw (already signature-verified) body into what to do with it. Never throws:
 * anything we cannot understand comes back as `invalid` with a reason (no payload values).
 */
export function parseDelivery(raw: Buffer | string, observedAt: string): ParsedDelivery {
  let data: unknown;
  try {
    data = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { kind: 'invalid', reason: 'body is not JSON' };
  }
  const env = envelopeSchema.safeParse(data);
  if (!env.success) return { kind: 'invalid', reason: `envelope ${firstIssue(env.error)}` };
  const name = env.data.event;
  if (!isHandledEvent(name)) return { kind: 'ignored', event: name };

  const payload = env.data.payload;
  const isNoShowEvent = name.startsWith('invitee_no_show.');
  if (isNoShowEvent && typeof payload.invitee === 'string' && payload.email === undefined) {
    const ns = noShowResourceSchema.safeParse(payload);
    if (!ns.success) return { kind: 'invalid', reason: `payload ${firstIssue(ns.error)}` };
    const eventUri = eventUriFromInviteeUri(ns.data.invitee);
    if (!eventUri || !eventIdOf(eventUri)) return { kind: 'invalid', reason: 'payload.invitee: not a scheduled event invitee URI' };
    const created = name === 'invitee_no_show.created';
    return {
      kind: 'update',
      event: name,
      update: {
        eventUri,
        observedAt,
        noShow: {
          inviteeUri: ns.data.invitee,
          noShow: created ? { uri: ns.data.uri, createdAt: ns.data.created_at ?? env.data.created_at } : null,
          at: created ? (ns.data.created_at ?? env.data.created_at) : env.data.created_at,
        },
      },
    };
  }

  const inv = inviteePayloadSchema.safeParse(payload);
  if (!inv.success) return { kind: 'invalid', reason: `payload ${firstIssue(inv.error)}` };
  const p = inv.data;
  const se = p.scheduled_event ?? undefined;
  const eventUri = p.event ?? se?.uri ?? eventUriFromInviteeUri(p.uri);
  if (!eventUri || !eventIdOf(eventUri)) return { kind: 'invalid', reason: 'payload: no usable scheduled event URI' };
  if (se && p.event && se.uri !== p.event) return { kind: 'invalid', reason: 'payload.scheduled_event.uri differs from payload.event' };

  const update: MeetingUpdate = {
    eventUri,
    observedAt,
    invitee: {
      uri: p.uri,
      email: p.email,
      name: p.name,
      status: p.status,
      rescheduled: p.rescheduled,
      oldInvitee: p.old_invitee,
      newInvitee: p.new_invitee,
      cancelUrl: p.cancel_url,
      rescheduleUrl: p.reschedule_url,
      cancellation: cancellationOf(p.cancellation),
      noShow: p.no_show === undefined ? undefined : p.no_show ? { uri: p.no_show.uri, createdAt: p.no_show.created_at } : null,
      updatedAt: p.updated_at,
      createdAt: p.created_at,
    },
  };
  if (se) {
    update.event = {
      uri: se.uri,
      name: se.name,
      status: se.status,
      startTime: se.start_time,
      endTime: se.end_time,
      location: se.location ? { type: se.location.type, location: se.location.location ?? null, joinUrl: se.location.join_url ?? null } : null,
      cancellation: cancellationOf(se.cancellation),
      updatedAt: se.updated_at,
      createdAt: se.created_at,
    };
  }
  if (name === 'invitee_no_show.created') {
    if (!p.no_show) return { kind: 'invalid', reason: 'payload.no_show: missing on invitee_no_show.created' };
    update.noShow = { inviteeUri: p.uri, noShow: { uri: p.no_show.uri, createdAt: p.no_show.created_at }, at: p.no_show.created_at };
  } else if (name === 'invitee_no_show.deleted') {
    // No timestamp of its own: the envelope's created_at is when Calendly recorded the removal.
    update.noShow = { inviteeUri: p.uri, noShow: null, at: env.data.created_at };
  }
  return { kind: 'update', event: name, update };
}
