/**
 * The local event bus: the handlers' EventBridge adapter, configured from the environment the
 * runtime gives the handlers, publishes over HTTP to the front door's PutEvents endpoint, and
 * `GET /dev/events` reads the log back with a cursor, oldest first. The stores do not publish
 * yet: the events here are built by the domain from real merges and go through the port.
 */
import { describe, expect, it } from 'vitest';
import { createEventBridgePublisher } from '../../functions/adapters/eventbridge.js';
import type { MeetingChangedEvent } from '../../functions/domain/meeting-events.js';
import { changeEventsOf } from '../support/meeting-events.js';
import { EVENTS_PAGE_MAX } from '../../local/events.js';
import { at, inviteePayload, upd } from '../ingest/scenarios.js';
import { call, useLocalRuntime } from '../support/runtime.js';

const rt = useLocalRuntime({
  env: { CALENDLY_CLIENT_ID: 'test', CALENDLY_CLIENT_SECRET: 'test', CALENDLY_WEBHOOK_SIGNING_KEY: 'test', CALENDLY_AUTH_URL: 'http://127.0.0.1:9', CALENDLY_API_URL: 'http://127.0.0.1:9' },
});

interface Page {
  events: Array<{ id: string; detailType: string; detail: MeetingChangedEvent['detail']; time: string }>;
  cursor: string;
}
const page = async (query = '') => {
  const res = await call(rt(), 'GET', `/dev/events${query}`);
  return { status: res.status, body: res.body as Page };
};

describe('local event bus', () => {
  it('the EventBridge adapter publishes to it from the handlers\' environment; /dev/events pages it oldest first', async () => {
    expect(process.env.EVENT_BUS_NAME).toBe('calendly-connector-local');
    const publisher = createEventBridgePublisher({ busName: process.env.EVENT_BUS_NAME!, endpoint: process.env.EVENTS_ENDPOINT });
    const booked = upd('invitee.created', inviteePayload({ ev: 'E7', inv: 'I1', updatedAt: at(1), event: { updatedAt: at(1) } }));
    const canceled = upd('invitee.canceled', inviteePayload({ ev: 'E7', inv: 'I1', status: 'canceled', updatedAt: at(5), event: { status: 'canceled', updatedAt: at(5) } }));
    const events = changeEventsOf('user-7', [booked, booked, canceled, booked]);
    // 1 created + 2 for the cancellation, plus 12 renumbered copies to cross a PutEvents batch
    const many = [...events, ...Array.from({ length: 12 }, (_, i) => ({ ...events[0]!, detail: { ...events[0]!.detail, version: 10 + i } }))];
    expect(await publisher.publish(many)).toEqual({ failed: [] });

    const first = await page('?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.events.map((e) => [e.detailType, e.detail.change, e.detail.version])).toEqual([
      ['Meeting Changed', 'created', 1],
      ['Meeting Changed', 'canceled', 2],
    ]);
    expect(first.body.events[0]?.detail).toMatchObject({ userId: 'user-7', eventUri: booked.eventUri, meeting: { status: 'active', invitees: [{ email: 'I1@example.com' }] } });
    expect(Date.parse(first.body.events[0]!.time)).not.toBeNaN();
    const rest = await page(`?after=${first.body.cursor}`);
    expect(rest.body.events.map((e) => e.detail.version)).toEqual([3, ...Array.from({ length: 12 }, (_, i) => 10 + i)]);
    expect(new Set([...first.body.events, ...rest.body.events].map((e) => e.id)).size).toBe(15);
    // nothing new: empty page, same cursor
    expect((await page(`?after=${rest.body.cursor}`)).body).toEqual({ events: [], cursor: rest.body.cursor });
  });

  it('events appended directly (the test hook) show up after the reader\'s cursor', async () => {
    const { cursor } = (await page(`?limit=${EVENTS_PAGE_MAX}`)).body;
    rt().events.append([{ source: 'calendly-connector', detailType: 'Meeting Changed', detail: { marker: 'direct' } }]);
    expect((await page(`?after=${cursor}`)).body.events.map((e) => e.detail)).toEqual([{ marker: 'direct' }]);
  });

  it('a bad cursor or limit is a 400 {error, message}', async () => {
    for (const q of ['?after=abc', '?after=-1', '?after=1.5', '?after=99999999', '?limit=0', `?limit=${EVENTS_PAGE_MAX + 1}`, '?limit=x']) {
      const res = await page(q);
      expect(res.status, q).toBe(400);
      expect(res.body).toMatchObject({ error: expect.stringMatching(/^invalid_(cursor|limit)$/), message: expect.any(String) });
    }
  });

  it('the PutEvents endpoint refuses, entry by entry, what EventBridge would (and the adapter reports them failed)', async () => {
    const before = (await page(`?limit=${EVENTS_PAGE_MAX}`)).body.cursor;
    const res = await fetch(`${rt().baseUrl}/dev/eventbridge`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
      body: JSON.stringify({
        Entries: [
          { EventBusName: 'calendly-connector-local', Source: 's', DetailType: 'd', Detail: '{"ok":1}' },
          { EventBusName: 'calendly-connector-local', Source: 's', DetailType: 'd', Detail: 'not json' },
          { EventBusName: 'someone-elses-bus', Source: 's', DetailType: 'd', Detail: '{}' },
        ],
      }),
    });
    const body = (await res.json()) as { FailedEntryCount: number; Entries: Array<{ EventId?: string; ErrorCode?: string }> };
    expect(body.FailedEntryCount).toBe(2);
    expect(body.Entries.map((e) => e.ErrorCode ?? 'ok')).toEqual(['ok', 'MalformedDetail', 'ResourceNotFoundException']);
    expect((await page(`?after=${before}`)).body.events.map((e) => e.detail)).toEqual([{ ok: 1 }]);

    const wrongBus = createEventBridgePublisher({ busName: 'someone-elses-bus', endpoint: process.env.EVENTS_ENDPOINT, maxAttempts: 2, baseDelayMs: 1 });
    const [one] = changeEventsOf('user-8', [upd('invitee.created', inviteePayload({ ev: 'E8', inv: 'I1', updatedAt: at(1) }))]);
    expect((await wrongBus.publish([one!])).failed).toEqual([one]);
  });
});
