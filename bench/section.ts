/**
 * Entry of one benchmark section in its own process (bench/run.ts forks one per section, so a
 * section's heap, sockets and in-process servers never skew another's). With an IPC channel the
 * result goes back to the parent; run by hand it prints its rows:
 *
 *   node --import tsx --expose-gc bench/section.ts calls
 */
import { formatTable, type SectionResult } from './lib/report.js';

process.env.LOG_LEVEL ??= 'ERROR';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= process.env.LOG_LEVEL;

const SECTIONS: Record<string, (arg: string | undefined) => Promise<SectionResult>> = {
  calls: async () => (await import('./sections/calls.js')).runCalls(),
  ingest: async () => (await import('./sections/ingest.js')).runIngest(),
  sync: async (arg) => (await import('./sections/sync.js')).runSync(arg),
  fleet: async (arg) => (await import('./sections/fleet.js')).runFleet(arg),
  bundles: async () => (await import('./sections/bundles.js')).runBundles(),
  rss: async () => (await import('./sections/rss.js')).runRss(),
};

const name = process.argv[2] ?? '';
const run = SECTIONS[name];
if (!run) {
  console.error(`usage: bench/section.ts <${Object.keys(SECTIONS).join('|')}> [arg]`);
  process.exit(2);
}
try {
  const result = await run(process.argv[3]);
  if (process.send) await new Promise<void>((resolve) => process.send?.({ ok: true, result }, () => resolve()));
  else console.log(formatTable(result.rows));
  process.exit(0);
} catch (err) {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.send) await new Promise<void>((resolve) => process.send?.({ ok: false, error: message }, () => resolve()));
  else console.error(message);
  process.exit(1);
}
