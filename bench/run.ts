/**
 * `npm run bench`: every benchmark section, one after another, each in a fresh process
 * (bench/section.ts), then ONE table on stdout and the same data in bench/results.json.
 *
 *   npm run bench                      # everything (~5 min on an idle 2-core machine)
 *   npm run bench -- --only calls,ingest
 *   npm run bench -- --only sync,fleet-2k --arg sync=free    # a job's argument, replaced
 *
 * Sections run sequentially on purpose: two at once would measure each other. What the
 * sections and their own children log goes to bench/last-run.log (LOG_LEVEL=ERROR).
 */
import { fork } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { formatTable, type Row, type SectionResult } from './lib/report.js';

interface Job {
  id: string;
  section: string;
  arg?: string;
  title: string;
}

const JOBS: Job[] = [
  { id: 'calls', section: 'calls', title: 'Calendly calls per operation' },
  { id: 'ingest', section: 'ingest', title: 'Webhook ingest' },
  { id: 'sync', section: 'sync', arg: '1000,10000', title: 'Initial sync (one connection)' },
  { id: 'fleet-2k', section: 'fleet', arg: '2000', title: 'Health-check fleet (one cycle)' },
  { id: 'fleet-10k', section: 'fleet', arg: '10000', title: 'Health-check fleet (one cycle)' },
  { id: 'rss', section: 'rss', title: 'Sync memory (peak RSS)' },
  { id: 'bundles', section: 'bundles', title: 'Handler bundles' },
];

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const onlyArg = process.argv.indexOf('--only');
const only = onlyArg > 0 ? new Set((process.argv[onlyArg + 1] ?? '').split(',')) : undefined;
// --arg <job id>=<value> (repeatable): what that job's section is given instead of its default.
const argOf = new Map<string, string>();
process.argv.forEach((a, i) => {
  const v = a === '--arg' ? process.argv[i + 1] : undefined;
  const eq = v?.indexOf('=') ?? -1;
  if (v && eq > 0) argOf.set(v.slice(0, eq), v.slice(eq + 1));
});
const jobs = JOBS.filter((j) => !only || only.has(j.id) || only.has(j.section)).map((j) => (argOf.has(j.id) ? { ...j, arg: argOf.get(j.id) } : j));

const log = createWriteStream(here('./last-run.log'));

function runJob(job: Job): Promise<SectionResult> {
  return new Promise((resolve, reject) => {
    const child = fork(here('./section.ts'), job.arg ? [job.section, job.arg] : [job.section], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'ERROR', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    let answer: { ok: boolean; result?: SectionResult; error?: string } | undefined;
    child.on('message', (m) => (answer = m as typeof answer));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (answer?.ok && answer.result) resolve(answer.result);
      else reject(new Error(answer?.error ?? `section ${job.id} exited with code ${code} (see bench/last-run.log)`));
    });
  });
}

const started = performance.now();
const loadStart = os.loadavg();
const results: Array<SectionResult & { job: string }> = [];
const rows: Row[] = [];
for (const job of jobs) {
  process.stderr.write(`▸ ${job.id} … `);
  const t0 = performance.now();
  try {
    const r = await runJob(job);
    results.push({ ...r, job: job.id });
    rows.push(...r.rows);
    process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    process.stderr.write(`FAILED: ${message}\n`);
    rows.push({ section: job.title, measure: `${job.id}: section failed`, value: message ?? 'failed', met: false });
    results.push({ job: job.id, section: job.title, rows: [], method: '', durationMs: performance.now() - t0, details: { error: message } });
  }
}
log.end();
const durationMs = performance.now() - started;
const loadEnd = os.loadavg();

const env = {
  node: process.version,
  platform: `${os.platform()} ${os.arch()}`,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  loadAverage1m: { start: Number(loadStart[0]?.toFixed(2)), end: Number(loadEnd[0]?.toFixed(2)) },
};
const met = rows.filter((r) => r.met === true).length;
const missed = rows.filter((r) => r.met === false).length;

console.log(formatTable(rows));
console.log(
  `\n${met} targets met, ${missed} missed · ${(durationMs / 1000).toFixed(0)} s · node ${env.node}, ${env.cpus} cores, load ${env.loadAverage1m.start} → ${env.loadAverage1m.end} · bench/results.json`,
);

await writeFile(
  here('./results.json'),
  JSON.stringify({ timestamp: new Date().toISOString(), ...env, durationMs: Math.round(durationMs), summary: { met, missed }, rows, sections: results }, null, 2) + '\n',
);
