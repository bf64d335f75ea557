/**
 * `npm start`: the local runtime on this machine's environment. A bad configuration value
 * prints one line naming the variable and exits with code 2, before anything starts.
 * SIGINT/SIGTERM stop it gracefully (a second signal exits at once).
 */
import { ConfigError, loadConfig } from './config.js';

try {
  loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

// The AWS SDK's notice that future versions will need Node 22 is advice for upgrades, not a
// problem with this run; keep the start-up output to our one line.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Only now the heavy imports (and the logger, which reads LOG_LEVEL when it loads).
const { startLocalRuntime } = await import('./runtime.js');

let runtime: Awaited<ReturnType<typeof startLocalRuntime>>;
try {
  runtime = await startLocalRuntime({ env: process.env, dataDir: process.env.DATA_DIR?.trim() || '.data' });
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const e = err as NodeJS.ErrnoException;
  const hint =
    e.code === 'EADDRINUSE'
      ? ` (port ${process.env.PORT?.trim() || 3000} is in use; set PORT)`
      : /lock|LEVEL_/i.test(`${e.code ?? ''} ${e.message}`)
        ? ' (is another local runtime using the same DATA_DIR?)'
        : '';
  process.stderr.write(`local runtime failed to start: ${e.message ?? String(err)}${hint}\n`);
  process.exit(1);
}

// A stray rejection in one handler would take the whole local stack down (in AWS it would
// cost one container): report it loudly and keep serving.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
});

let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals++;
  if (signals > 1) {
    process.stderr.write(`${signal} again: exiting without waiting\n`);
    process.exit(130);
  }
  runtime.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
