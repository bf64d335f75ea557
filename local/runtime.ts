/**
 * The local serverless runtime: the same handlers as the Lambdas, behind a local API Gateway
 * (HTTP API + JWT authorizer), on dynalite, fauxqs with Lambda-style pollers, an in-process
 * scheduler, and (when no real Calendly is configured) the built-in Calendly sandbox.
 *
 * This module only puts the pieces together and stops them in order; each piece is its own
 * module (config, keys, store, queues, calendly, handler-env, server, backlog, health-check).
 *
 * One runtime per process: the handlers memoise their configuration (functions/wiring/) on
 * first use, from the process.env this sets. Tests that only inject handlers may start more.
 */
import { createServer, type Server } from 'node:http';
import { mkdir } from 'node:fs/promises';
import type { JWTPayload } from 'jose';
import type { QueueName } from '../functions/ports.js';
import { logger } from '../functions/shared/logger.js';
import type { TableKey } from '../functions/store/tables.js';
import { LocalAuth } from './auth.js';
import { restoreBacklog, saveBacklog } from './backlog.js';
import { saveSandboxState, startCalendly, type CalendlyTarget } from './calendly.js';
import { loadConfig, type LocalConfig } from './config.js';
import { createCors } from './cors.js';
import { LOCAL_EVENT_BUS_NAME, LocalEventBus } from './events.js';
import { applyHandlerEnvironment, handlerEnvironment } from './handler-env.js';
import { createHandlerRegistry, HANDLER_NAMES, type AnyHandler, type AnyHandlerName } from './handlers.js';
import { runHealthCheck, type HealthCheckSummary } from './health-check.js';
import { createInFlight } from './in-flight.js';
import { loadOrCreateKeys, type LocalKeys } from './keys.js';
import { lambdaContext, withFunctionTimeout } from './lambda-context.js';
import { closeServer, listen } from './listen.js';
import { LocalQueues, type DrainOptions, type DrainResult, type QueueInfo, type QueueOptions, type QueueStats, type SqsHandler } from './queues.js';
import { startScheduler, type LocalScheduler } from './scheduler.js';
import { createFrontDoor } from './server.js';
import { startLocalStore, type LocalStore } from './store.js';
import type { Sandbox, SandboxOptions } from '../sandbox/types.js';

export { BACKLOG_FILE } from './backlog.js';
export { SANDBOX_STATE_FILE } from './calendly.js';
export type { HealthCheckSummary } from './health-check.js';

export interface LocalRuntimeOptions {
  /** Configuration variables (design.md's table); defaults to none, i.e. all defaults. */
  env?: Record<string, string | undefined>;
  /** Overrides PORT; 0 = any free port. */
  port?: number;
  /** Overrides DATA_DIR; default ':memory:' unless env.DATA_DIR is set. */
  dataDir?: string;
  /** Overrides HEALTH_CHECK_INTERVAL_SECONDS; 0 = no scheduler. */
  healthIntervalSeconds?: number;
  /** Passed to startSandbox (over the runtime's own: port 0, redirect URI, app credentials). */
  sandboxOptions?: SandboxOptions;
  /** Replace handlers (tests): e.g. a worker that fails on purpose. */
  handlers?: Partial<Record<AnyHandlerName, AnyHandler>>;
  /** Queue and event source mapping settings (tests use small visibility timeouts). */
  queues?: QueueOptions;
  /** API Gateway's integration timeout: a slower handler gets a 503. Default 30 000 (as AWS). */
  integrationTimeoutMs?: number;
  /** Interface to listen on. Default 127.0.0.1. */
  host?: string;
}

export interface LocalRuntime {
  /** Where the HTTP server listens, e.g. http://127.0.0.1:3000. */
  readonly baseUrl: string;
  /** PUBLIC_BASE_URL as the handlers see it. */
  readonly publicBaseUrl: string;
  readonly config: LocalConfig;
  readonly calendly: CalendlyTarget;
  /** The embedded Calendly sandbox, when in use (its controls: book, cancel, faults, ...). */
  readonly sandbox?: Sandbox;
  readonly endpoints: { dynamodb: string; sqs: string };
  readonly tables: Record<TableKey, string>;
  readonly queues: Record<QueueName, QueueInfo>;
  /** A token the local authorizer accepts (claims may override iss/aud/exp/... for tests). */
  mintToken(userId: string, claims?: JWTPayload): Promise<string>;
  /** Calls a handler directly, as Lambda would (no API Gateway in between). */
  invoke(handlerName: AnyHandlerName, event: unknown): Promise<unknown>;
  /** Waits until the queues are empty and no worker is running (see DrainOptions). */
  drain(options?: DrainOptions): Promise<DrainResult>;
  queueStats(): Record<QueueName, QueueStats>;
  /** One health-check cycle over every connection, waiting for the work it queued. */
  runHealthCheck(): Promise<HealthCheckSummary>;
  /** The in-process event bus that `GET /dev/events` reads (tests may append to it directly). */
  readonly events: LocalEventBus;
  /** Graceful: stop accepting, finish in-flight work, close everything. Idempotent. */
  stop(): Promise<void>;
}

export async function startLocalRuntime(opts: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const env: Record<string, string | undefined> = { ...(opts.env ?? {}) };
  if (opts.port !== undefined) env.PORT = String(opts.port);
  if (opts.dataDir !== undefined) env.DATA_DIR = opts.dataDir;
  else env.DATA_DIR ??= ':memory:';
  if (opts.healthIntervalSeconds !== undefined) env.HEALTH_CHECK_INTERVAL_SECONDS = String(opts.healthIntervalSeconds);
  const config = loadConfig(env); // throws ConfigError: one line naming the variable
  const started = Date.now();

  let readyResolve!: () => void;
  let readyReject!: (err: unknown) => void;
  // Requests that arrive before the handlers' environment is set wait for this.
  const ready = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  ready.catch(() => undefined);
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  };

  try {
    if (config.dataDir !== ':memory:') await mkdir(config.dataDir, { recursive: true });
    // Independent, so started together (key generation runs on libuv's thread pool).
    const [keysR, storeR, queuesR] = await Promise.allSettled([
      loadOrCreateKeys(config.dataDir),
      startLocalStore(config.dataDir),
      LocalQueues.start(opts.queues),
    ]);
    if (storeR.status === 'fulfilled') cleanups.push(() => storeR.value.close());
    if (queuesR.status === 'fulfilled') cleanups.push(() => queuesR.value.stop());
    for (const r of [keysR, storeR, queuesR]) if (r.status === 'rejected') throw r.reason;
    const keys = (keysR as PromiseFulfilledResult<LocalKeys>).value;
    const store = (storeR as PromiseFulfilledResult<LocalStore>).value;
    const queues = (queuesR as PromiseFulfilledResult<LocalQueues>).value;
    const auth = new LocalAuth(keys);
    const events = new LocalEventBus();

    const handlers = createHandlerRegistry(opts.handlers);
    const inFlight = createInFlight();
    const track = <T>(work: Promise<T>): Promise<T> => inFlight.track(work);

    const invoke = async (name: AnyHandlerName, event: unknown): Promise<unknown> => {
      const handler = await handlers.load(name);
      return withFunctionTimeout(name, () => handler(event, lambdaContext(name)));
    };
    const healthCheck = (): Promise<HealthCheckSummary> => runHealthCheck((input) => invoke('health-scheduler', input), queues);

    let stopping = false;
    const server: Server = createServer(
      { requestTimeout: 0 },
      createFrontDoor({
        auth,
        cors: createCors(config.allowedOrigins),
        handlers,
        ready,
        track,
        integrationTimeoutMs: opts.integrationTimeoutMs,
        sandboxBaseUrl: () => sandbox?.baseUrl,
        dev: {
          events,
          runHealthCheck: () => track(healthCheck()),
          config: () => ({
            sandbox: calendly.mode === 'sandbox',
            ...(sandbox ? { sandboxBaseUrl: sandbox.baseUrl, sandboxControlsPath: '/__sandbox' } : {}),
            calendly: { mode: calendly.mode, authUrl: calendly.authUrl, apiUrl: calendly.apiUrl },
            publicBaseUrl,
            jwt: { issuer: auth.issuer, audience: auth.audience, jwksPath: '/dev/jwks.json' },
            endpoints: { dynamodb: store.endpoint, sqs: queues.endpoint },
            tables: store.tables,
            queues: {
              sync: { url: queues.queues.sync.url, dlqUrl: queues.queues.sync.dlqUrl },
              health: { url: queues.queues.health.url, dlqUrl: queues.queues.health.dlqUrl },
            },
            dataDir: config.dataDir,
            events: { busName: LOCAL_EVENT_BUS_NAME, path: '/dev/events', putEventsEndpoint: `${baseUrl}/dev/eventbridge` },
          }),
        },
      }),
    );
    server.on('request', (_req, res) => {
      if (stopping) res.setHeader('connection', 'close');
    });
    const port = await listen(server, config.port, opts.host ?? '127.0.0.1');
    cleanups.push(() => closeServer(server));
    const baseUrl = `http://127.0.0.1:${port}`;
    const publicBaseUrl = config.publicBaseUrl ?? baseUrl;

    // Calendly: the configured one, or the embedded sandbox.
    // (The front door reads `calendly` and `sandbox` only after `ready`, so after this line.)
    const { calendly, sandbox, app } = await startCalendly(config, keys, publicBaseUrl, opts.sandboxOptions);
    if (sandbox) cleanups.push(() => sandbox.close());

    // Hand the environment to the handlers before any of them is imported.
    applyHandlerEnvironment(handlerEnvironment({ config, keys, store, queues, publicBaseUrl, calendly, app, eventsEndpoint: `${baseUrl}/dev/eventbridge` }));

    // Messages left in the queues by the last stop (fauxqs keeps nothing itself).
    const restored = await restoreBacklog(config.dataDir, queues);
    if (restored > 0) logger.info('queued messages restored from the last run', { messages: restored });
    queues.startPollers(async (queue) => (await handlers.load(queue === 'sync' ? 'sync-worker' : 'health-worker')) as SqsHandler);
    let scheduler: LocalScheduler | undefined;
    if (config.healthIntervalSeconds > 0) {
      scheduler = startScheduler({
        intervalSeconds: config.healthIntervalSeconds,
        // EventBridge Scheduler's LambdaInvoke target passes the configured input verbatim.
        input: { kind: 'health-tick' },
        invoke: (input) => track(invoke('health-scheduler', input)),
      });
    }
    // /health first: it is what a supervisor polls, and it should not queue behind the rest.
    if (!opts.handlers?.ping) await handlers.load('ping').catch(() => undefined);
    readyResolve();
    // Import the real handlers right away (in the background, so start-up is not held up): a
    // module that does not load is reported now rather than on the first request, and does not
    // stop the others from being served.
    void track(
      Promise.allSettled(HANDLER_NAMES.filter((n) => !opts.handlers?.[n]).map((n) => handlers.load(n))).then((loaded) => {
        for (const r of loaded) {
          if (r.status === 'rejected') logger.error('a handler failed to load; its routes will answer 500', { error: r.reason instanceof Error ? r.reason.message : String(r.reason) });
        }
      }),
    );

    logger.info(`local runtime listening on ${baseUrl}`, {
      url: baseUrl,
      publicBaseUrl,
      calendly: calendly.mode === 'sandbox' ? `sandbox at ${calendly.apiUrl}` : calendly.mode === 'external' ? `external ${calendly.apiUrl}` : 'unavailable',
      dataDir: config.dataDir,
      healthIntervalSeconds: config.healthIntervalSeconds,
      reconcileIntervalSeconds: config.reconcileIntervalSeconds,
      startMs: Date.now() - started,
    });

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        stopping = true;
        readyReject(new Error('stopping'));
        const closing = closeServer(server);
        // In-flight HTTP requests and invocations finish against live dependencies (bounded:
        // a direct invoke() that never returns must not keep the runtime up).
        const settle = () => inFlight.settle(130_000);
        await settle();
        server.closeIdleConnections();
        await scheduler?.stop();
        await settle();
        await queues.stopPollers(); // each poller lets its current batch finish
        await saveBacklog(config.dataDir, queues).catch((err: unknown) =>
          logger.error('could not save the queued messages; they are lost', { error: err instanceof Error ? err.message : String(err) }),
        );
        await queues.stop();
        await closing;
        await sandbox?.close().catch((err: unknown) => logger.warn('sandbox close failed', { error: String(err) }));
        // After close: no request can change the sandbox between the snapshot and the exit.
        if (sandbox) {
          await saveSandboxState(config.dataDir, sandbox).catch((err: unknown) =>
            logger.error('could not save the sandbox state; the next start has a fresh sandbox', { error: err instanceof Error ? err.message : String(err) }),
          );
        }
        await store.close(); // LevelDB closed: everything written is on disk
        logger.info('local runtime stopped');
      })();
      return stopped;
    };

    return {
      baseUrl,
      publicBaseUrl,
      config,
      calendly,
      sandbox,
      endpoints: { dynamodb: store.endpoint, sqs: queues.endpoint },
      tables: store.tables,
      queues: queues.queues,
      mintToken: (userId, claims) => auth.mintToken(userId, claims),
      invoke: (name, event) => track(invoke(name, event)),
      drain: (o) => queues.drain(o),
      queueStats: () => queues.stats(),
      runHealthCheck: () => track(healthCheck()),
      events,
      stop,
    };
  } catch (err) {
    readyReject(err);
    await cleanup();
    throw err;
  }
}

