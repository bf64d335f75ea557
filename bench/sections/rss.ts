/**
 * Peak RSS of an initial sync of 1,000 and of 10,000 events (issue #16: the 10k peak less than
 * 20 MB above the 1k peak, or show where the rest goes). This process hosts dynalite and the
 * sandbox; each sync runs in a child process (bench/rss-child.ts) whose memory is the worker's
 * alone, sampled with its breakdown: V8's young generation (new space), old space, other heap
 * spaces, memory outside the heap. The same two syncs run again with V8's old generation
 * capped, which tells the data a sync needs from garbage V8 had not yet collected at the peak.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { connectSandboxUser } from '../../test/support/sandbox.js';
import { startBenchHarness, type BenchHarness } from '../lib/harness.js';
import type { MemoryBreakdown } from '../lib/measure.js';
import { mb, type Row, type SectionResult } from '../lib/report.js';
import type { RssChildInput, RssChildOutput } from '../rss-child.js';

const SECTION = 'Sync memory (peak RSS)';
const RSS_GROWTH_TARGET = 20 * 1024 * 1024;
/**
 * Old-generation cap (MB) of the second run: well above what the worker holds after a full GC
 * (~5 MB of data on a ~20 MB heap), well below the 512 MB the Lambda has. V8 then starts its
 * major collections earlier instead of letting the old space grow with the run's length.
 */
const CAPPED_OLD_SPACE_MB = 64;

function runChild(input: RssChildInput, execArgv: string[]): Promise<RssChildOutput> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('../rss-child.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx', '--expose-gc', ...execArgv],
      env: { ...process.env, BENCH_RSS_INPUT: JSON.stringify(input) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let out: RssChildOutput | undefined;
    child.on('message', (m) => (out = m as RssChildOutput));
    child.on('error', reject);
    child.on('exit', (code) => (out && code === 0 ? resolve(out) : reject(new Error(`rss child exited ${code}`))));
  });
}

async function syncOnce(h: BenchHarness, events: number, label: string, execArgv: string[]): Promise<RssChildOutput> {
  const userId = `bench-rss-${label}-${events}`;
  const { user, tokens } = await connectSandboxUser(h.sandbox, h.client, { email: `rss-${label}-${events}@bench.test` });
  const owner = randomUUID();
  await h.connections.startConnect(userId, { tokens, owner, nowMs: h.clock.now(), leaseMs: 60_000, connectionId: randomUUID(), expectedVersion: undefined });
  await h.connections.finishRun(userId, owner, { outcome: 'connected', nowMs: h.clock.now(), profile: { calendlyUserUri: user.uri, organizationUri: user.organization, email: user.email } });
  // 30 minutes apart: 10,000 events span ~208 days, inside the initial window (30 days back, 365 ahead).
  h.sandbox.seedEvents(user.uri, events, { intervalMin: 30 });
  const out = await runChild({ endpoint: h.dynalite.endpoint, tables: h.tables, calendlyBaseUrl: h.sandbox.baseUrl, clientId: h.sandbox.clientId, clientSecret: h.sandbox.clientSecret, userId }, execArgv);
  if (out.failures) throw new Error(`sync of ${events} (${label}): ${out.failures} failures`);
  return out;
}

const delta = (a: MemoryBreakdown, b: MemoryBreakdown, k: keyof MemoryBreakdown) => a[k] - b[k];

/** "new space +14.2 MB, old space +3.1 MB, …" between two peaks. */
function whereItGoes(large: MemoryBreakdown, small: MemoryBreakdown): string {
  const parts: Array<[string, keyof MemoryBreakdown]> = [
    ['young generation (new space)', 'newSpace'],
    ['old space', 'oldSpace'],
    ['of which in use', 'oldSpaceUsed'],
    ['other heap spaces', 'otherSpaces'],
    ['external', 'external'],
    ['outside the heap', 'outsideHeap'],
  ];
  return parts.map(([name, k]) => `${name} ${delta(large, small, k) >= 0 ? '+' : ''}${mb(delta(large, small, k))}`).join(', ');
}

export async function runRss(): Promise<SectionResult> {
  const t0 = performance.now();
  // The limit is lifted to measure memory, not pacing (the sync section reports the pacing).
  const h = await startBenchHarness({ sandbox: { defaultPlan: 'paid', apiRateLimit: 1_000_000_000 } });
  const rows: Row[] = [];
  const runs: Record<string, RssChildOutput> = {};
  try {
    for (const [label, execArgv] of [
      ['default', []],
      ['capped', [`--max-old-space-size=${CAPPED_OLD_SPACE_MB}`]],
    ] as const) {
      for (const events of [1000, 10000]) runs[`${label}-${events}`] = await syncOnce(h, events, label, [...execArgv]);
    }
  } finally {
    await h.close();
  }
  const get = (k: string) => runs[k] as RssChildOutput;
  const retained = (r: RssChildOutput) => r.afterGc.heapUsed - r.baseline.heapUsed;
  const cappedGrowth = get('capped-10000').peak.rss - get('capped-1000').peak.rss;
  for (const label of ['default', 'capped'] as const) {
    const small = get(`${label}-1000`);
    const large = get(`${label}-10000`);
    const growth = large.peak.rss - small.peak.rss;
    const capped = label === 'capped';
    const missed = !capped && growth >= RSS_GROWTH_TARGET;
    rows.push({
      section: SECTION,
      measure: capped
        ? `the same with V8's old generation capped (--max-old-space-size=${CAPPED_OLD_SPACE_MB}): peak RSS 10k minus 1k`
        : 'peak RSS of a 10k-event sync minus a 1k-event sync (worker process, default V8 flags)',
      value: `${mb(growth)} (1k ${mb(small.peak.rss)}, 10k ${mb(large.peak.rss)}; wall ${(small.wallMs / 1000).toFixed(1)} s vs ${(large.wallMs / 1000).toFixed(1)} s)${missed || capped ? ` — where: ${whereItGoes(large.peak, small.peak)}` : ''}${
        missed
          ? `; the sync holds ${mb(retained(large) - retained(small))} more after a full GC, and with the old generation capped at ${CAPPED_OLD_SPACE_MB} MB the growth is ${mb(cappedGrowth)}${
              cappedGrowth < RSS_GROWTH_TARGET ? ': the rest is garbage V8 had not collected yet at the peak of the longer run' : ''
            }`
          : ''
      }`,
      ...(capped ? {} : { target: '< 20 MB, or where the rest goes', met: growth < RSS_GROWTH_TARGET }),
      data: { growth, small: small.peak, large: large.peak, wallMs: { small: small.wallMs, large: large.wallMs } },
    });
    rows.push({
      section: SECTION,
      measure: `${capped ? 'capped: ' : ''}heap still held after the sync and a full GC, 10k minus 1k (the data the sync keeps)`,
      value: `${mb(retained(large) - retained(small))} (1k ${mb(retained(small))}, 10k ${mb(retained(large))})`,
      ...(capped ? {} : { target: '< 20 MB', met: retained(large) - retained(small) < RSS_GROWTH_TARGET }),
      data: { small: retained(small), large: retained(large) },
    });
  }
  return {
    section: SECTION,
    rows,
    details: { runs },
    durationMs: performance.now() - t0,
    method:
      `Sandbox seedEvents(n, 30 min apart, 1 invitee each) for a fresh user per run; the real sync-worker handler runs one {reason:"connect"} message in a child process (node --expose-gc) against dynalite and the sandbox hosted by this process. Memory sampled every 5 ms (process.memoryUsage() and v8.getHeapSpaceStatistics()); the breakdown is the one at the highest-RSS sample; baseline and "held after" follow a full gc(). Then the same 1k and 10k syncs with --max-old-space-size=${CAPPED_OLD_SPACE_MB}: growth that goes away there (with the sync still completing) was garbage V8 let accumulate in the old space over a longer run, not data the sync needs. API rate limit lifted in the sandbox.`,
  };
}
