/**
 * The local runtime's configuration: design.md's environment table, validated with zod.
 * A bad value becomes ONE line naming the variable and what is wrong; values of secrets are
 * never echoed (the line may end up in a terminal log or a CI artifact).
 */
import * as z from 'zod';
import { parseEncryptionKey } from '../functions/shared/crypto.js';

export type CalendlyConfig =
  | { mode: 'sandbox' }
  | { mode: 'external'; authUrl: string; apiUrl: string; clientId: string; clientSecret: string; webhookSigningKey: string };

export interface LocalConfig {
  /** 0 = any free port. */
  port: number;
  /** Unset = `http://127.0.0.1:<actual port>` (known only after listen when port is 0). */
  publicBaseUrl?: string;
  /** Unset = `<publicBaseUrl>/`. */
  appRedirectUrl?: string;
  calendly: CalendlyConfig;
  /** A directory, or ':memory:' to keep nothing. */
  dataDir: string;
  /** 0 = no scheduler. */
  healthIntervalSeconds: number;
  webhookToleranceSeconds: number;
  /** How often each connection gets a reconciliation sync from its health check. */
  reconcileIntervalSeconds: number;
  /** Unset = generated once and kept in DATA_DIR (random per run for ':memory:'). */
  tokenEncryptionKey?: string;
  logLevel: LogLevel;
  /** Browser origins allowed to call the API (CORS); empty = no CORS headers at all. */
  allowedOrigins: string[];
}

export const LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Variables whose values must never appear in an error line. */
const SECRET_VARS = new Set(['CALENDLY_CLIENT_SECRET', 'CALENDLY_WEBHOOK_SIGNING_KEY', 'TOKEN_ENCRYPTION_KEY']);

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Empty strings count as unset (a `FOO=` line in a .env file means "not configured"). */
const unsetIfEmpty = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

const httpUrl = z
  .string()
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname.length > 0;
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL')
  .transform((v) => v.replace(/\/+$/, ''));

const intIn = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*\d+\s*$/, `must be a whole number from ${min} to ${max}`)
    .transform((v) => Number(v.trim()))
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

/**
 * `https://app.example.com,http://localhost:5173`: each entry exactly an origin, as a browser
 * sends it in `Origin` (scheme, host, optional port; no path, no wildcard), lower-cased.
 */
const originList = z.string().transform((v, ctx) => {
  const origins: string[] = [];
  for (const entry of v.split(',').map((e) => e.trim())) {
    let origin: string | undefined;
    try {
      const u = new URL(entry);
      const bare = u.pathname === '/' && !u.search && !u.hash && !u.username && !u.password && !entry.endsWith('/');
      if ((u.protocol === 'http:' || u.protocol === 'https:') && bare) origin = u.origin;
    } catch {
      // not a URL: reported below
    }
    if (!origin) {
      ctx.addIssue({ code: 'custom', message: `must be comma-separated origins like https://app.example.com (scheme://host[:port], no path or wildcard); ${JSON.stringify(truncate(entry))} is not one` });
      return z.NEVER;
    }
    if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
});

const fields = {
  PORT: z.preprocess(unsetIfEmpty, intIn(0, 65535).optional()),
  PUBLIC_BASE_URL: z.preprocess(unsetIfEmpty, httpUrl.optional()),
  APP_REDIRECT_URL: z.preprocess(unsetIfEmpty, z.string().refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL').optional()),
  CALENDLY_AUTH_URL: z.preprocess(unsetIfEmpty, httpUrl.optional()),
  CALENDLY_API_URL: z.preprocess(unsetIfEmpty, httpUrl.optional()),
  CALENDLY_CLIENT_ID: z.preprocess(unsetIfEmpty, z.string().max(512, 'is longer than 512 characters').optional()),
  CALENDLY_CLIENT_SECRET: z.preprocess(unsetIfEmpty, z.string().max(1024, 'is longer than 1024 characters').optional()),
  CALENDLY_WEBHOOK_SIGNING_KEY: z.preprocess(unsetIfEmpty, z.string().max(1024, 'is longer than 1024 characters').optional()),
  DATA_DIR: z.preprocess(unsetIfEmpty, z.string().optional()),
  HEALTH_CHECK_INTERVAL_SECONDS: z.preprocess(unsetIfEmpty, intIn(0, 7 * 86400).optional()),
  WEBHOOK_TOLERANCE_SECONDS: z.preprocess(unsetIfEmpty, intIn(1, 172_800).optional()),
  RECONCILE_INTERVAL_SECONDS: z.preprocess(unsetIfEmpty, intIn(60, 30 * 86400).optional()),
  TOKEN_ENCRYPTION_KEY: z.preprocess(
    unsetIfEmpty,
    z
      .string()
      .refine((v) => {
        try {
          parseEncryptionKey(v);
          return true;
        } catch {
          return false;
        }
      }, 'must be 32 bytes, base64-encoded')
      .optional(),
  ),
  ALLOWED_ORIGINS: z.preprocess(unsetIfEmpty, originList.optional()),
  LOG_LEVEL: z.preprocess(
    (v) => (typeof unsetIfEmpty(v) === 'string' ? String(v).trim().toUpperCase() : undefined),
    z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  ),
};

type Fields = { [K in keyof typeof fields]: z.infer<(typeof fields)[K]> };

/** Parses and checks the environment; throws a ConfigError whose message is the one line. */
export function loadConfig(env: Record<string, string | undefined>): LocalConfig {
  const parsed = {} as Record<string, unknown>;
  // Field by field, in table order, so the line names the first bad variable.
  for (const [name, schema] of Object.entries(fields)) {
    const raw = env[name];
    const result = (schema as z.ZodType).safeParse(raw);
    if (!result.success) {
      const message = result.error.issues[0]?.message ?? 'is invalid';
      const shown = SECRET_VARS.has(name) || raw === undefined ? '' : ` (got ${JSON.stringify(truncate(raw))})`;
      throw new ConfigError(name, `${message}${shown}`);
    }
    parsed[name] = result.data;
  }
  const f = parsed as Fields;

  let calendly: CalendlyConfig;
  if (!f.CALENDLY_AUTH_URL && !f.CALENDLY_API_URL && !f.CALENDLY_CLIENT_ID) {
    calendly = { mode: 'sandbox' };
    // Credentials without an app to go with them are almost certainly a mistake.
    if (f.CALENDLY_CLIENT_SECRET) throw new ConfigError('CALENDLY_CLIENT_SECRET', 'is set but CALENDLY_CLIENT_ID is not');
    if (f.CALENDLY_WEBHOOK_SIGNING_KEY) throw new ConfigError('CALENDLY_WEBHOOK_SIGNING_KEY', 'is set but CALENDLY_CLIENT_ID is not');
  } else {
    if (!f.CALENDLY_CLIENT_ID) throw new ConfigError('CALENDLY_CLIENT_ID', 'is required when CALENDLY_AUTH_URL or CALENDLY_API_URL is set');
    if (!f.CALENDLY_CLIENT_SECRET) throw new ConfigError('CALENDLY_CLIENT_SECRET', 'is required when CALENDLY_CLIENT_ID is set');
    if (!f.CALENDLY_WEBHOOK_SIGNING_KEY) throw new ConfigError('CALENDLY_WEBHOOK_SIGNING_KEY', 'is required when CALENDLY_CLIENT_ID is set');
    calendly = {
      mode: 'external',
      authUrl: f.CALENDLY_AUTH_URL ?? 'https://auth.calendly.com',
      apiUrl: f.CALENDLY_API_URL ?? 'https://api.calendly.com',
      clientId: f.CALENDLY_CLIENT_ID,
      clientSecret: f.CALENDLY_CLIENT_SECRET,
      webhookSigningKey: f.CALENDLY_WEBHOOK_SIGNING_KEY,
    };
  }

  return {
    port: f.PORT ?? 3000,
    publicBaseUrl: f.PUBLIC_BASE_URL,
    appRedirectUrl: f.APP_REDIRECT_URL,
    calendly,
    dataDir: f.DATA_DIR ?? '.data',
    healthIntervalSeconds: f.HEALTH_CHECK_INTERVAL_SECONDS ?? 900,
    webhookToleranceSeconds: f.WEBHOOK_TOLERANCE_SECONDS ?? 90_000,
    reconcileIntervalSeconds: f.RECONCILE_INTERVAL_SECONDS ?? 86400,
    tokenEncryptionKey: f.TOKEN_ENCRYPTION_KEY,
    logLevel: f.LOG_LEVEL ?? 'INFO',
    allowedOrigins: f.ALLOWED_ORIGINS ?? [],
  };
}

function truncate(v: string): string {
  return v.length > 80 ? `${v.slice(0, 77)}...` : v;
}
