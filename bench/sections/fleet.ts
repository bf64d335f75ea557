/**
 * Health-check fleet of N connections, one cycle. This process hosts dynalite and the sandbox
 * (the services); a child process (bench/fleet-child.ts) plays the Lambdas: it seeds the
 * connections through the real stores and the sandbox's OAuth and webhook endpoints, then runs
 * one cycle through the real health-scheduler and health-worker handlers over fauxqs.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FleetChildInput, FleetChildOutput } from '../fleet-child.js';
import { remoteServicesOf, startBenchHarness } from '../lib/harness.js';
import { total } from '../lib/measure.js';
import { describeCalls, fmt, type Row, type SectionResult } from '../lib/report.js';

const SECTION = 'Health-check fleet (one cycle)';
const INTERVAL_MS = 15 * 60_000;
/** The local event source mapping: batches of 10, 4 pollers (Lambda would scale out further). */
const POLLERS = { visibilityTimeoutSeconds: 120, maxReceiveCount: 5, batchSize: 10, concurrency: 4, waitTimeSeconds: 1 };

function runChild(input: FleetChildInput): Promise<FleetChildOutput> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('../fleet-child.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_FLEET_INPUT: JSON.stringify(input) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let out: FleetChildOutput | undefined;
    child.on('message', (m) => (out = m as FleetChildOutput));
    child.on('error', reject);
    child.on('exit', (code) => (out && code === 0 ? resolve(out) : reject(new Error(`fleet child exited ${code}`))));
  });
}

export async function runFleet(arg?: string): Promise<SectionResult> {
  const t0 = performance.now();
  const size = Number(arg ?? 2000);
  const h = await startBenchHarness();
  const rows: Row[] = [];
  const k = `${size / 1000}k`;
  let out: FleetChildOutput;
  try {
    out = await runChild({ services: remoteServicesOf(h), size, cohorts: 8, intervalMs: INTERVAL_MS, pollers: POLLERS });
  } finally {
    await h.close();
  }
  if (!out.drained) throw new Error('the health queue did not drain');
  const perConnection = total(out.calls) / size;
  rows.push({
    section: SECTION,
    measure: `${k} connections: one cycle (scheduler fan-out + workers)`,
    value: `${fmt(out.cycleMs / 1000, 1)} s (${fmt((size / out.cycleMs) * 1000, 0)} checks/s; fan-out ${fmt(out.tickMs / 1000, 2)} s)`,
    data: { ...out },
  });
  rows.push({
    section: SECTION,
    measure: `${k} connections: Calendly calls per connection (1 token in 8 due, as in steady state)`,
    value: `${fmt(perConnection, 3)} = ${describeCalls(out.calls)}`,
    target: '≤ 1.1',
    met: perConnection <= 1.1 && out.stillDue === 0 && out.summary.enqueued === size,
    data: { calls: out.calls, perConnection, refreshShare: (out.calls['POST /oauth/token'] ?? 0) / size, enqueued: out.summary.enqueued, stillDue: out.stillDue },
  });
  rows.push({
    section: SECTION,
    measure: `${k} connections: DynamoDB requests per connection checked`,
    value: `${fmt((out.ddb.reads + out.ddb.writes) / size, 2)} (${fmt(out.ddb.writes / size, 2)} writes)`,
    data: out.ddb as unknown as Record<string, unknown>,
  });
  return {
    section: SECTION,
    rows,
    durationMs: performance.now() - t0,
    method: `Parent hosts dynalite and the sandbox; a child process seeds N connections with real OAuth code exchanges and webhook creates at the sandbox, through the real stores, in 8 cohorts 15 min apart on the shared clock (1 token in 8 due at the cycle), then runs the real health-scheduler (no SQS delay) and health-worker handlers over fauxqs with the local runtime's pollers (batch ${POLLERS.batchSize}, ${POLLERS.concurrency} pollers). Calls = sandbox calls() diff over the cycle.`,
  };
}
