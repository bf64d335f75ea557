/**
 * The local serverless runtime: the same handlers as the Lambdas, behind a local API Gateway
 * (HTTP API + JWT authorizer), on dynalite, fauxqs with Lambda-style pollers, an in-process
 * scheduler, and (when no real Calendly is configured) the built-in Calendly sandbox.
 *
 * One runtime per process: the handlers memoise their configuration (functions/wiring.ts) on
 * first use, from the process.env this sets. Tests that only inject handlers may start more.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as z from 'zod';
import type { JWTPayload } from 'jose';
import type { QueueName } from '../functions/ports.js';
import { logger } from '../functions/shared/logger.js';
import type { TableKey } from '../functions/store/tables.js';
import { LocalAuth } from './auth.js';
import { loadConfig, type LocalConfig } from './config.js';
import { createHandlerRegistry, HANDLER_NAMES, type AnyHandler, type AnyHandlerName } from './handlers.js';
import { loadOrCreateKeys, type LocalKeys } from './keys.js';
import { lambdaContext, withFunctionTimeout } from './lambda-context.js';
import { LocalQueues, type DrainOptions, type DrainResult, type QueueInfo, type QueueOptions, type QueueStats, type SqsHandler } from './queues.js';
import { startScheduler, type LocalScheduler } from './scheduler.js';
import { createFrontDoor } from './server.js';
import { startLocalStore, type LocalStore } from './store.js';
import type { Sandbox, SandboxOptions, SandboxSnapshot } from '../sandbox/types.js';

type SandboxModule = typeof import('../sandbox/index.js');

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

export interface HealthCheckSummary {
  /** What health-scheduler returned. */
  scheduler: unknown;
  /** Messages the workers finished (health and sync queues) while waiting. */
  processed: number;
  /** Deliveries the workers failed (they are retried after the visibility timeout). */
  failed: number;
  /** Failed or delayed messages still waiting for a retry when we answered. */
  pendingRetries: number;
  /** False when the queues were still busy at the time limit. */
  drained: boolean;
  durationMs: number;
}

export interface LocalRuntime {
  /** Where the HTTP server listens, e.g. http://127.0.0.1:3000. */
  readonly baseUrl: string;
  /** PUBLIC_BASE_URL as the handlers see it. */
  readonly publicBaseUrl: string;
  readonly config: LocalConfig;
  readonly calendly: { mode: 'sandbox' | 'external' | 'unavailable'; authUrl: string; apiUrl: string };
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

    const handlers = createHandlerRegistry(opts.handlers);
    // Everything the shutdown has to wait for: HTTP requests, direct invocations, health checks.
    const inFlight = new Set<Promise<unknown>>();
    const track = <T>(work: Promise<T>): Promise<T> => {
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work)).catch(() => undefined);
      return work;
    };

    const invoke = async (name: AnyHandlerName, event: unknown): Promise<unknown> => {
      const handler = await handlers.load(name);
      return withFunctionTimeout(name, () => handler(event, lambdaContext(name)));
    };
    let sandbox: Sandbox | undefined;
    let calendly: LocalRuntime['calendly'];

    const runHealthCheck = async (): Promise<HealthCheckSummary> => {
      const t0 = Date.now();
      const before = queues.stats();
      const scheduler = await invoke('health-scheduler', { kind: 'health-tick', all: true });
      const drained = await queues.drain({ queues: ['health', 'sync'], timeoutMs: 120_000 });
      const after = queues.stats();
      const sum = (k: keyof QueueStats) => (['health', 'sync'] as const).reduce((n, q) => n + after[q][k] - before[q][k], 0);
      return {
        scheduler,
        processed: sum('succeeded'),
        failed: sum('failed'),
        pendingRetries: drained.pendingRetries,
        drained: drained.idle,
        durationMs: Date.now() - t0,
      };
    };

    let stopping = false;
    const server: Server = createServer(
      { requestTimeout: 0 },
      createFrontDoor({
        auth,
        handlers,
        ready,
        track,
        integrationTimeoutMs: opts.integrationTimeoutMs,
        sandboxBaseUrl: () => sandbox?.baseUrl,
        dev: {
          runHealthCheck: () => track(runHealthCheck()),
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
          }),
        },
      }),
    );
    server.on('request', (_req, res) => {
      if (stopping) res.setHeader('connection', 'close');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    cleanups.push(() => closeServer(server));
    const { port } = server.address() as AddressInfo;
    const baseUrl = `http://127.0.0.1:${port}`;
    const publicBaseUrl = config.publicBaseUrl ?? baseUrl;
    const appRedirectUrl = config.appRedirectUrl ?? `${publicBaseUrl}/`;

    // Calendly: the configured one, or the embedded sandbox.
    let app: { clientId: string; clientSecret: string; webhookSigningKey: string };
    if (config.calendly.mode === 'external') {
      const c = config.calendly;
      calendly = { mode: 'external', authUrl: c.authUrl, apiUrl: c.apiUrl };
      app = c;
    } else {
      let sandboxModule: SandboxModule | undefined;
      try {
        // Loaded only when used; a sandbox that does not load must not stop the runtime.
        sandboxModule = await import('../sandbox/index.js');
        if (typeof sandboxModule.startSandbox !== 'function') throw new Error('sandbox/index.ts does not export startSandbox');
      } catch (err) {
        logger.error('the built-in Calendly sandbox could not be loaded; starting without it (Calendly calls will fail). Set CALENDLY_CLIENT_ID and friends to use a real Calendly.', {
          error: err instanceof Error ? err.message : String(err),
        });
        sandboxModule = undefined;
      }
      if (sandboxModule) {
        sandbox = await startSandboxWithSavedState(sandboxModule, config.dataDir, {
          port: 0,
          host: '127.0.0.1',
          // = functions/wiring.ts oauthRedirectUri(); not imported here because the composition
          // root pulls in every adapter, which would slow down start-up (the handlers load it).
          redirectUris: [`${publicBaseUrl}/oauth/calendly/callback`],
          ...keys.sandbox,
          ...(opts.sandboxOptions ?? {}),
        });
        const s = sandbox;
        cleanups.push(() => s.close());
        calendly = { mode: 'sandbox', authUrl: sandbox.baseUrl, apiUrl: sandbox.baseUrl };
        app = sandbox;
      } else {
        const unavailable = `${publicBaseUrl}/__sandbox`;
        calendly = { mode: 'unavailable', authUrl: unavailable, apiUrl: unavailable };
        app = keys.sandbox;
      }
    }

    // Hand the environment to the handlers before any of them is imported.
    const handlerEnv: Record<string, string> = {
      ...store.tableEnv,
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      DYNAMODB_ENDPOINT: store.endpoint,
      SQS_ENDPOINT: queues.endpoint,
      SYNC_QUEUE_URL: queues.queues.sync.url,
      HEALTH_QUEUE_URL: queues.queues.health.url,
      PUBLIC_BASE_URL: publicBaseUrl,
      APP_REDIRECT_URL: appRedirectUrl,
      CALENDLY_AUTH_URL: calendly.authUrl,
      CALENDLY_API_URL: calendly.apiUrl,
      CALENDLY_CLIENT_ID: app.clientId,
      CALENDLY_CLIENT_SECRET: app.clientSecret,
      CALENDLY_WEBHOOK_SIGNING_KEY: app.webhookSigningKey,
      TOKEN_ENCRYPTION_KEY: config.tokenEncryptionKey ?? keys.tokenEncryptionKey,
      WEBHOOK_TOLERANCE_SECONDS: String(config.webhookToleranceSeconds),
      LOG_LEVEL: config.logLevel,
    };
    Object.assign(process.env, handlerEnv);
    // Locally the secrets come from the environment, never from Secrets Manager.
    delete process.env.APP_SECRET_ARN;


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
        const settle = async () => {
          const deadline = Date.now() + 130_000;
          while (inFlight.size > 0 && Date.now() < deadline) {
            await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, 1000).unref())]);
          }
        };
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
      runHealthCheck: () => track(runHealthCheck()),
      stop,
    };
  } catch (err) {
    readyReject(err);
    await cleanup();
    throw err;
  }
}

export const BACKLOG_FILE = 'queue-backlog.json';

const backlogSchema = z.record(z.string(), z.array(z.object({ body: z.string(), delaySeconds: z.number().int().min(0).max(900).optional() })));

async function saveBacklog(dataDir: string, queues: LocalQueues): Promise<void> {
  if (dataDir === ':memory:') return;
  const backlog = queues.backlog();
  const path = join(dataDir, BACKLOG_FILE);
  if (Object.keys(backlog).length === 0) return;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(backlog), { mode: 0o600 });
  await rename(tmp, path);
}

async function restoreBacklog(dataDir: string, queues: LocalQueues): Promise<number> {
  if (dataDir === ':memory:') return 0;
  const path = join(dataDir, BACKLOG_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  const parsed = backlogSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${path} is damaged; move it away to start without the saved queue messages`);
  const n = await queues.restore(parsed.data);
  // At least once, as SQS: a crash between the two lines would deliver these again.
  await unlink(path);
  return n;
}

export const SANDBOX_STATE_FILE = 'sandbox-state.json';

const SANDBOX_FRESH = 'the saved sandbox state cannot be used; the sandbox starts fresh (connections made before it must connect again)';

/**
 * Starts the embedded sandbox from `$DATA_DIR/sandbox-state.json` when there is one, so the
 * tokens and hooks the store holds still mean something. A damaged or incompatible file costs
 * one warning line and a fresh sandbox, never the start. The file is kept (the next graceful
 * stop overwrites it): after a crash, the state of the last graceful stop beats none.
 */
async function startSandboxWithSavedState(mod: SandboxModule, dataDir: string, base: SandboxOptions): Promise<Sandbox> {
  if (dataDir === ':memory:' || base.initialState) return mod.startSandbox(base);
  const file = join(dataDir, SANDBOX_STATE_FILE);
  const fresh = (err: unknown) => {
    logger.warn(SANDBOX_FRESH, { file, error: err instanceof Error ? err.message : String(err) });
    return mod.startSandbox(base);
  };
  let initialState: SandboxSnapshot;
  try {
    initialState = mod.parseSandboxSnapshot(JSON.parse(await readFile(file, 'utf8')));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return mod.startSandbox(base);
    return fresh(err);
  }
  // The store holds absolute URIs (users, hooks, events) with the sandbox's address in them, and
  // the client only follows URIs under its API base: come back on the same port.
  const port = base.port ? base.port : Number(new URL(initialState.baseUrl).port);
  try {
    return await mod.startSandbox({ ...base, port, initialState });
  } catch (err) {
    if (err instanceof mod.SandboxSnapshotError) return fresh(err);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && port !== (base.port ?? 0)) {
      logger.warn(`sandbox port ${port} is in use; the saved sandbox state moves to a new port (connections made before it may need to connect again)`, { file });
      return mod.startSandbox({ ...base, initialState });
    }
    throw err;
  }
}

/** Writes the snapshot next to the store: temp file, fsync, rename, so a crash never leaves half a file. */
async function saveSandboxState(dataDir: string, sandbox: Sandbox): Promise<void> {
  if (dataDir === ':memory:') return;
  const path = join(dataDir, SANDBOX_STATE_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.chmod(0o600); // a leftover temp file keeps its old mode otherwise
    await fh.writeFile(JSON.stringify(sandbox.snapshot()));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** Stops accepting; resolves when every connection is gone (idle ones are closed as they idle). */
function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // Keep-alive connections become idle only after their last response; close them as they do.
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    // A client holding a connection open with a request it never finishes must not keep us up.
    const force = setTimeout(() => server.closeAllConnections(), 30_000);
    force.unref();
    server.close(() => {
      clearInterval(idle);
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });
}
