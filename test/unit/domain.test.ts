import { describe, expect, it } from 'vitest';
import { connectionStatusOf } from '../../functions/domain/connection.js';
import { AuthorizationRequiredError, ConflictError, DomainError, InvalidInputError, UnavailableError } from '../../functions/domain/errors.js';
import { eventIdOf, mergeMeeting, toApiMeeting, type MeetingUpdate } from '../../functions/domain/meeting/index.js';
import { healthMessageSchema, parseMessage, syncMessageSchema } from '../../functions/domain/messages.js';

const EVENT = 'https://api.calendly.com/scheduled_events/EV1';
const event = (name: string, updatedAt: string, status: 'active' | 'canceled' = 'active'): MeetingUpdate => ({
  eventUri: EVENT,
  observedAt: updatedAt,
  event: { uri: EVENT, name, status, startTime: '2026-07-01T10:00:00.000000Z', endTime: '2026-07-01T10:30:00.000000Z', updatedAt },
});

describe('domain: connection status', () => {
  it('reads only the two live statuses as themselves; anything else is disconnected, never connected', () => {
    expect(connectionStatusOf('connected')).toBe('connected');
    expect(connectionStatusOf('authorization_required')).toBe('authorization_required');
    expect(connectionStatusOf('CONNECTED')).toBe('disconnected');
    expect(connectionStatusOf(undefined)).toBe('disconnected');
  });
});

describe('domain: errors', () => {
  it('carry a name, a kind, a code and their cause, and no HTTP status', () => {
    const cause = new Error('ProvisionedThroughputExceededException');
    const err = new UnavailableError('store_unavailable', 'Could not record the webhook; please try again.', { cause });
    expect(err).toBeInstanceOf(DomainError);
    expect(err).toMatchObject({ name: 'UnavailableError', kind: 'unavailable', code: 'store_unavailable' });
    expect(err.cause).toBe(cause);
    expect(err).not.toHaveProperty('status');
    expect(new InvalidInputError('invalid_query', 'bad').kind).toBe('invalid_input');
  });

  it('a refused grant is a conflict the user resolves by authorizing again', () => {
    const err = new AuthorizationRequiredError();
    expect(err).toBeInstanceOf(ConflictError);
    expect(err).toMatchObject({ name: 'AuthorizationRequiredError', kind: 'conflict', code: 'authorization_required' });
  });
});

describe('domain: queue messages', () => {
  it('a sync message with an unknown field or a bad time is refused, naming the field', () => {
    expect(parseMessage(syncMessageSchema, JSON.stringify({ userId: 'u1', reason: 'manual' }))).toMatchObject({ ok: true });
    const extra = parseMessage(syncMessageSchema, JSON.stringify({ userId: 'u1', reason: 'manual', surprise: 1 }));
    expect(extra.ok).toBe(false);
    const badTime = parseMessage(syncMessageSchema, JSON.stringify({ userId: 'u1', reason: 'manual', minStartTime: 'yesterday' }));
    expect(badTime).toMatchObject({ ok: false, reason: expect.stringContaining('minStartTime') });
    expect(parseMessage(healthMessageSchema, 'not json')).toEqual({ ok: false, reason: 'body is not JSON' });
  });
});

describe('domain: meeting merge', () => {
  it('takes the scheduled event id from its URI and refuses anything else', () => {
    expect(eventIdOf(EVENT)).toBe('EV1');
    expect(eventIdOf('https://api.calendly.com/scheduled_events/../../x y')).toBeUndefined();
    expect(eventIdOf('not a uri')).toBeUndefined();
  });

  it('moves only forward: older news leaves the state as it is (the same object), newer news wins', () => {
    const v1 = mergeMeeting(undefined, event('Intro', '2026-06-01T10:00:00.000000Z'));
    const v2 = mergeMeeting(v1, event('Intro (moved)', '2026-06-02T10:00:00.000000Z'));
    expect(toApiMeeting(v2).name).toBe('Intro (moved)');
    expect(mergeMeeting(v2, event('Intro', '2026-06-01T10:00:00.000000Z'))).toBe(v2);
    const canceled = mergeMeeting(v2, event('Intro (moved)', '2026-06-03T10:00:00.000000Z', 'canceled'));
    expect(toApiMeeting(canceled).status).toBe('canceled');
    expect(mergeMeeting(canceled, event('Intro (moved)', '2026-06-02T10:00:00.000000Z'))).toBe(canceled);
  });
});
