/**
 * Webhook ingest: DynamoDB requests per delivery (counted by the SDK middleware), then latency
 * and throughput with 16 deliveries in flight through the real webhook handler (invoked
 * directly with API Gateway v2 events: what runs behind API Gateway in AWS), beside a bare
 * PutItem of a meeting-sized item to the same dynalite, same concurrency, in the same run. The
 * two workloads alternate in rounds so that drift (GC, JIT, a busy machine) hits both alike.
 */
import { randomUUID } from 'node:crypto';
import { PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { beginConnect, completeConnect } from '../../functions/flows/connect.js';
import { makeWebhookHandler } from '../../functions/edge/webhook.js';
import { startBenchHarness, webhookEvent } from '../lib/harness.js';
import { collectGarbage, percentile, pool, type DdbCounts } from '../lib/measure.js';
import { fmt, type Row, type SectionResult } from '../lib/report.js';

const SECTION = 'Webhook ingest';
const IN_FLIGHT = 16;
const ROUNDS = 4;
const PER_ROUND = 250;
const WARMUP = 100;

const describeDdb = (c: DdbCounts) =>
  `${c.writes} write${c.writes === 1 ? '' : 's'}, ${c.reads} read${c.reads === 1 ? '' : 's'} (${Object.entries(c.byCommand)
    .map(([k, n]) => `${k.replace(/Command$/, '')} ${n}`)
    .join(', ')})`;

export async function runIngest(): Promise<SectionResult> {
  const t0 = performance.now();
  const h = await startBenchHarness();
  const rows: Row[] = [];
  try {
    // A connected user with a real hook, made by the real connect flow.
    const cd = h.connectionDeps();
    const userId = 'bench-ingest';
    const email = 'ingest@bench.test';
    const user = h.sandbox.createUser({ email });
    const { authorizeUrl } = await beginConnect(cd, userId);
    const back = new URL(h.sandbox.approve(authorizeUrl, { email }));
    const done = await completeConnect(cd, { code: back.searchParams.get('code') ?? undefined, state: back.searchParams.get('state') ?? undefined });
    if (done.outcome !== 'connected') throw new Error(`connect failed: ${done.location}`);
    const hookKey = (await h.connections.get(userId))?.webhook?.hookKey as string;

    // A real invitee.created body from the sandbox; variants get fresh event/invitee ids.
    const booked = await h.sandbox.book({ userUri: user.uri, invitees: [{ email: 'guest@bench.test' }] });
    const template = booked.deliveries.find((d) => d.event === 'invitee.created')?.body;
    if (!template) throw new Error('sandbox made no invitee.created delivery');
    const eventUuid = String(booked.event.uri).split('/').pop() as string;
    const inviteeUuid = String(booked.invitees[0]?.uri).split('/').pop() as string;
    const variantOf = (eventId: string) => template.split(eventUuid).join(eventId).split(inviteeUuid).join(randomUUID());
    const variant = () => variantOf(randomUUID());

    const handler = makeWebhookHandler(h.ingestDeps());
    const key = h.sandbox.webhookSigningKey;
    const deliver = async (body: string) => {
      const res = await handler(webhookEvent(hookKey, body, key, h.clock.now()));
      return { status: res.statusCode, answer: (JSON.parse(res.body ?? '{}') as { status?: string }).status };
    };

    // --- DynamoDB requests per delivery -----------------------------------------------------
    const perDelivery = async (body: string) => {
      const before = h.ddb.snapshot();
      const r = await deliver(body);
      return { ...r, counts: h.ddb.since(before) };
    };
    // Round trips: every read is its own round trip; the (at most two) puts of a delivery are sent
    // together, so they are one round trip (apply.ts: Promise.all over the puts).
    const roundTrips = (c: DdbCounts) => c.reads + (c.writes > 0 ? 1 : 0);
    await perDelivery(variant()); // warms the container's hook key cache, as any earlier delivery would
    const freshEventId = randomUUID();
    const fresh = variantOf(freshEventId);
    const applied = await perDelivery(fresh);
    const duplicate = await perDelivery(fresh);
    if (applied.answer !== 'applied' || duplicate.answer !== 'duplicate') throw new Error(`unexpected answers ${applied.answer}/${duplicate.answer}`);
    rows.push({
      section: SECTION,
      measure: 'new delivery (new event): DynamoDB round trips',
      value: `${roundTrips(applied.counts)}: ${describeDdb(applied.counts)}`,
      target: '2 (one batch read, one round of conditional writes)',
      met: roundTrips(applied.counts) === 2,
      data: applied.counts as unknown as Record<string, unknown>,
    });
    rows.push({
      section: SECTION,
      measure: 'duplicate delivery: DynamoDB round trips',
      value: `${roundTrips(duplicate.counts)}: ${describeDdb(duplicate.counts)}`,
      target: '1 (the batch read), 0 writes',
      met: roundTrips(duplicate.counts) === 1 && duplicate.counts.writes === 0,
      data: duplicate.counts as unknown as Record<string, unknown>,
    });
    rows.push({
      section: SECTION,
      measure: 'baseline: Powertools idempotency + the work (documented, not measured)',
      value: '3 writes (idempotency PutItem lock + UpdateItem complete, + the meeting write); duplicate: 1 failed conditional PutItem',
      data: { source: 'shared/research/anchors.md §2.1 (Powertools docs: "2 WCUs per non-idempotent call")', writesNew: 3 },
    });

    // --- latency and throughput, 16 in flight ------------------------------------------------
    const stored = (await h.doc.send(new GetCommand({ TableName: h.tables.meetings, Key: { userId, eventId: freshEventId } }))).Item;
    if (!stored) throw new Error('the booked meeting was not stored');
    const bareItem = () => ({ ...stored, userId: 'bench-bare-put', eventId: randomUUID() });

    const runIngestBatch = async (n: number) => {
      const bodies = Array.from({ length: n }, variant);
      const lat: number[] = [];
      let bad = 0;
      const start = performance.now();
      await pool(bodies, IN_FLIGHT, async (body) => {
        const ev = webhookEvent(hookKey, body, key, h.clock.now()); // signing is the sender's work: not timed
        const s = performance.now();
        const res = await handler(ev);
        lat.push(performance.now() - s);
        if (res.statusCode !== 200) bad += 1;
      });
      return { lat, wallMs: performance.now() - start, bad };
    };
    const runBareBatch = async (n: number) => {
      const items = Array.from({ length: n }, bareItem);
      const lat: number[] = [];
      const start = performance.now();
      await pool(items, IN_FLIGHT, async (Item) => {
        const s = performance.now();
        await h.doc.send(new PutCommand({ TableName: h.tables.meetings, Item }));
        lat.push(performance.now() - s);
      });
      return { lat, wallMs: performance.now() - start, bad: 0 };
    };

    await runBareBatch(WARMUP);
    await runIngestBatch(WARMUP);
    const ing = { lat: [] as number[], wallMs: 0, bad: 0 };
    const bare = { lat: [] as number[], wallMs: 0, bad: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      collectGarbage();
      const b = await runBareBatch(PER_ROUND);
      collectGarbage();
      const i = await runIngestBatch(PER_ROUND);
      bare.lat.push(...b.lat);
      bare.wallMs += b.wallMs;
      ing.lat.push(...i.lat);
      ing.wallMs += i.wallMs;
      ing.bad += i.bad;
    }
    if (ing.bad) throw new Error(`${ing.bad} deliveries were not answered 200`);
    const stat = (x: typeof ing) => ({ p50: percentile(x.lat, 50), p99: percentile(x.lat, 99), perSecond: (x.lat.length / x.wallMs) * 1000, n: x.lat.length });
    const si = stat(ing);
    const sb = stat(bare);
    const ratio = si.p99 / sb.p99;
    rows.push({
      section: SECTION,
      measure: `ingest latency, ${IN_FLIGHT} in flight (webhook handler, direct invocation), p50 / p99`,
      value: `${fmt(si.p50, 2)} / ${fmt(si.p99, 2)} ms`,
      data: si,
    });
    rows.push({
      section: SECTION,
      measure: `bare PutItem, same store, ${IN_FLIGHT} in flight, p50 / p99`,
      value: `${fmt(sb.p50, 2)} / ${fmt(sb.p99, 2)} ms`,
      data: sb,
    });
    rows.push({
      section: SECTION,
      measure: 'ingest p99 ÷ bare PutItem p99',
      value: `${fmt(ratio, 2)}×`,
      target: '≤ 2.2×',
      met: ratio <= 2.2,
      data: { ratio },
    });
    rows.push({
      section: SECTION,
      measure: 'ingest throughput (deliveries/s, this machine)',
      value: `${fmt(si.perSecond, 0)} /s (bare PutItem ${fmt(sb.perSecond, 0)} /s)`,
      target: '≥ 500 /s',
      met: si.perSecond >= 500,
      data: { ingest: si.perSecond, bare: sb.perSecond },
    });
  } finally {
    await h.close();
  }
  return {
    section: SECTION,
    rows,
    durationMs: performance.now() - t0,
    method: `Real webhook handler (makeWebhookHandler over the production ports) invoked directly with signed API Gateway v2 events (app-key signatures, fresh event/invitee ids per delivery: every delivery is new and written); dynalite in the same process, LOG_LEVEL=ERROR. ${ROUNDS} rounds × ${PER_ROUND} per workload after ${WARMUP} warm-up each, alternating bare PutItem / ingest, ${IN_FLIGHT} in flight; latency = handler call to its answer.`,
  };
}
