import path from 'node:path';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { API_KEY_PATTERN } from './accounts/api-key-format.js';

/**
 * Every environment variable the API reads, parsed and validated in one place. Each entry carries
 * its description: the README's table is checked against this list, so adding a variable here is
 * the whole job (plus a line in the README, which a test asks for).
 */
const booleanFlag = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .default('false')
  .transform((value) => value === 'true' || value === '1');

/** A rate limit: how many per minute; 0 turns that limit off. */
const perMinute = (fallback: number, what: string) =>
  z.coerce
    .number()
    .int('must be a whole number')
    .min(0)
    .default(fallback)
    .describe(`Rate limit: ${what} per minute (0: no limit). Over it: \`RATE_LIMITED\` / HTTP 429.`);

/** A query limit; 0 turns it off (for benchmarks: production keeps them all). */
const queryLimit = (fallback: number, description: string) =>
  z.coerce.number().int('must be a whole number').min(0).default(fallback).describe(`${description} Over it: \`QUERY_TOO_COMPLEX\` (0: no limit).`);

export const ENVIRONMENT = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'])
    .default('development')
    .describe('`production` turns off the dev user and hides internal error details.'),
  PORT: z.coerce
    .number()
    .int('must be a whole number')
    .min(0)
    .max(65535)
    .default(4000)
    .describe('Port for HTTP and WebSocket (GraphQL and subscriptions share `/graphql`).'),
  HOST: z.string().min(1).default('0.0.0.0').describe('Interface to listen on.'),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://easel.example.com' })
    .optional()
    .describe('The URL clients reach this server at, when behind a proxy. Default `http://localhost:PORT`.'),
  MONGODB_URI: z
    .string()
    .regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://')
    .optional()
    .describe('MongoDB to use. Unset: an embedded server is started (data in `DATA_DIR`, or in memory only). Required in production unless `ALLOW_MEMORY_DATABASE=true`.'),
  ALLOW_MEMORY_DATABASE: booleanFlag.describe(
    'Production only: `true` lets Easel start without `MONGODB_URI` on an embedded, possibly in-memory database whose data is lost on restart (demos). Default `false`: production refuses to start without `MONGODB_URI`.',
  ),
  REDIS_URL: z
    .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' })
    .optional()
    .describe('Redis shared by all API instances (rate limits, events). Unset: in-process only, for a single instance.'),
  CORS_ORIGINS: z
    .string()
    .regex(/^\s*(\*|https?:\/\/[^\s,]+(\s*,\s*https?:\/\/[^\s,]+)*)\s*$/, 'must be `*` or a comma-separated list of origins such as https://app.example.com')
    .optional()
    .describe('Browser origins allowed to call the API (comma-separated, e.g. `https://app.example.com`), or `*` for any (then no credentials). Unset: none in production; in development any `http://localhost:*` and `http://127.0.0.1:*`.'),
  DATA_DIR: z.string().min(1).default('./data').describe('Where the embedded database keeps its files.'),
  MODELS_DIR: z
    .string()
    .min(1)
    .default('./models')
    .describe('Folder of ONNX models; a catalog entry is installed when `MODELS_DIR/<path>/model_index.json` exists.'),
  LORAS_DIR: z
    .string()
    .min(1)
    .optional()
    .describe('Folder of LoRA .safetensors files (the GPU function reads the same files). Default `MODELS_DIR/loras`.'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('pino log level.'),
  DEV_API_KEY: z
    .string()
    .regex(API_KEY_PATTERN, 'must look like easel_ followed by at least 32 letters, digits, - or _')
    .optional()
    .describe('Development only: the dev user\'s API key, so it survives restarts of the in-memory database.'),
  FREE_DAILY_TOKENS: z.coerce
    .number()
    .int('must be a whole number')
    .min(0)
    .default(20)
    .describe('Daily token allowance of the FREE plan.'),
  PLUS_DAILY_TOKENS: z.coerce
    .number()
    .int('must be a whole number')
    .min(0)
    .default(200)
    .describe('Daily token allowance of the PLUS plan.'),
  GPU_CONCURRENCY: z.coerce
    .number()
    .int('must be a whole number')
    .min(0)
    .default(2)
    .describe('Jobs running on the GPU function at once, across all API instances. 0 dispatches nothing: jobs wait QUEUED.'),
  FREE_CONCURRENCY: z.coerce
    .number()
    .int('must be a whole number')
    .min(1)
    .default(1)
    .describe('Jobs one user of the FREE plan may have running at once.'),
  PLUS_CONCURRENCY: z.coerce
    .number()
    .int('must be a whole number')
    .min(1)
    .default(3)
    .describe('Jobs one user of the PLUS plan may have running at once.'),
  JOB_LEASE_SECONDS: z.coerce
    .number()
    .positive('must be more than 0')
    .default(120)
    .describe('How long a dispatched job may stay silent (before its first event, and between events) before it is retried once, then failed and refunded.'),
  CALLBACK_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL the GPU function can reach' })
    .optional()
    .describe('Base URL the GPU function posts its events to. Default `PUBLIC_URL`, else `http://127.0.0.1:PORT`.'),
  LAMBDA_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .optional()
    .describe('Lambda Invoke API endpoint of a Lambda-compatible runtime. Unset: AWS in production; otherwise a local GPU function started in-process.'),
  GPU_FUNCTION_NAME: z.string().min(1).default('easel-gpu').describe('Name (or ARN) of the GPU function to invoke.'),
  AWS_REGION: z.string().min(1).optional().describe('AWS region of the GPU function (credentials come from the standard AWS variables or the role).'),
  IMAGE_LINK_KEY: z
    .string()
    .min(32, 'must be at least 32 characters')
    .optional()
    .describe('Signs the short-lived image links (`images { signedUrl }`) for `<img>` tags. Unset: a random key per start; set one shared key when running several API instances.'),
  TRUST_PROXY: z
    .string()
    .regex(/^(true|false|\d+|[^,\s]+(\s*,\s*[^,\s]+)*)$/, 'must be true, false, a number of hops, or a comma-separated list of proxy addresses or subnets')
    .default('false')
    .describe('Which proxies in front of the API may say who the client is (X-Forwarded-For), for the per-address rate limits: `false` (none: the socket\'s address), a number of hops (`1` behind one load balancer), or addresses and subnets (`10.0.0.0/8, loopback`), as Express\'s `trust proxy`.'),
  WS_ACCESS_RECHECK_SECONDS: z.coerce
    .number()
    .positive()
    .default(60)
    .describe('How often every open WebSocket\'s API key and user are checked against the database, closing those revoked or changed by what the event bus did not carry (the admin command line, a Redis outage).'),
  WEBHOOK_SECRETS_KEY: z
    .string()
    .min(32, 'must be at least 32 characters')
    .optional()
    .describe('Seals the users\' webhook signing secrets in the database (AES-256-GCM), so that a copy of the database alone does not give them away. Unset: stored as they are (a warning in production). Keep it: sealed secrets cannot be read without it (to change it, list the old one in WEBHOOK_SECRETS_PREVIOUS_KEYS).'),
  WEBHOOK_SECRETS_PREVIOUS_KEYS: z
    .string()
    .refine((value) => value.split(',').every((key) => key.trim().length >= 32), 'must be comma-separated keys of at least 32 characters each')
    .optional()
    .describe('Keys WEBHOOK_SECRETS_KEY replaced, comma-separated: secrets they sealed still open, and are sealed again with the current key when next read. Drop one once every secret has been read since.'),
  RATE_LIMIT_GENERATE: perMinute(30, '`generateImage` calls per user'),
  RATE_LIMIT_ANALYZE: perMinute(120, '`analyzePrompt` fields per user'),
  RATE_LIMIT_UPLOADS: perMinute(30, '`POST /uploads` per user'),
  RATE_LIMIT_AUTH_FAILURES: perMinute(30, 'requests with an unknown or revoked API key per client address'),
  RATE_LIMIT_WS_CONNECTS: perMinute(60, 'WebSocket connections opened per client address'),
  QUERY_MAX_ALIASES: queryLimit(30, 'Most aliases one GraphQL operation may use.'),
  QUERY_MAX_DEPTH: queryLimit(12, 'Deepest field nesting one GraphQL operation may reach (introspection excepted).'),
  QUERY_MAX_TOKENS: queryLimit(3000, 'Most lexical tokens one GraphQL document may have.'),
  QUERY_MAX_COST: queryLimit(5000, 'Cost budget of one GraphQL operation: each object field 1, lists times their size, `analyzePrompt` 100, `generateImage` 200 (README, Query limits).'),
  WEBHOOK_RETRY_SECONDS: z
    .string()
    .regex(/^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$/, 'must be seconds separated by commas, such as 5,30,120')
    .default('5,30,120,600,1800,7200')
    .describe('Waits before each webhook retry, in seconds: a delivery is tried once plus once per entry, then marked FAILED.'),
  WEBHOOK_TIMEOUT_SECONDS: z.coerce.number().positive('must be more than 0').default(10).describe('How long a webhook receiver has to answer one attempt.'),
  IMAGE_STORE: z
    .enum(['gridfs', 's3'])
    .default('gridfs')
    .describe('Where images (generated PNGs, uploaded bases) are kept: `gridfs` in the database, or `s3` in an S3-compatible bucket (`S3_*`).'),
  S3_BUCKET: z.string().min(1).optional().describe('`IMAGE_STORE=s3`: the bucket (required then).'),
  S3_REGION: z.string().min(1).default('us-east-1').describe('`IMAGE_STORE=s3`: the bucket\'s region.'),
  S3_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .optional()
    .describe('`IMAGE_STORE=s3`: endpoint of an S3-compatible service (MinIO, R2, ...). Unset: AWS S3. Credentials: the standard AWS variables or the role.'),
  S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false'])
    .default('false')
    .describe('`IMAGE_STORE=s3`: `true` for path-style URLs (`endpoint/bucket/key`), which most S3-compatible services need.'),
});

export type Environment = z.infer<typeof ENVIRONMENT>;

export interface Config {
  env: Environment['NODE_ENV'];
  isProduction: boolean;
  port: number;
  host: string;
  publicUrl: string | undefined;
  mongodbUri: string | undefined;
  dataDir: string;
  modelsDir: string;
  lorasDir: string;
  logLevel: Environment['LOG_LEVEL'];
  devApiKey: string | undefined;
  dailyTokens: { FREE: number; PLUS: number };
  gpu: {
    /** Jobs running at once, over all API instances. */
    concurrency: number;
    /** Jobs one user may have running at once, by plan. */
    perUser: { FREE: number; PLUS: number };
    leaseSeconds: number;
    functionName: string;
    /** Unset: AWS itself in production, a local function otherwise. */
    lambdaEndpoint: string | undefined;
    region: string | undefined;
  };
  /** Where the GPU function posts events; unset: worked out from the listening address. */
  callbackUrl: string | undefined;
  /** Signs image links; unset: a random key per process. */
  imageLinkKey: string | undefined;
  /** Seals webhook secrets at rest; unset: stored as they are. */
  webhookSecretsKey: string | undefined;
  /** Keys it replaced, still opening what they sealed. */
  webhookSecretsPreviousKeys: string[];
  /** How often open sockets' keys are checked against the database. */
  wsAccessRecheckSeconds: number;
  /** TRUST_PROXY: none, a number of hops, or trusted proxy addresses and subnets. */
  trustProxy: boolean | number | string[];
  /** Production may run on an embedded database only when the operator said so. */
  allowMemoryDatabase: boolean;
  redisUrl: string | undefined;
  /** Allowed browser origins; '*' any; undefined: none in production, localhost in development. */
  corsOrigins: string[] | '*' | undefined;
  /** Requests per minute; 0: no limit. */
  rateLimits: RateLimits;
  queryLimits: QueryLimits;
  webhooks: { retryDelaysMs: number[]; timeoutMs: number };
  /** Where images live: GridFS, or an S3-compatible bucket. */
  images: { store: 'gridfs' } | { store: 's3'; bucket: string; region: string; endpoint: string | undefined; forcePathStyle: boolean };
}

export interface RateLimits {
  generate: number;
  analyze: number;
  uploads: number;
  authFailures: number;
  wsConnects: number;
}

export interface QueryLimits {
  aliases: number;
  depth: number;
  tokens: number;
  cost: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the configuration from `env` (process.env by default); throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty value (`PORT=` in a .env file) means "not set", as most tools read it.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = ENVIRONMENT.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      const value = present[name];
      return `  ${name}: ${issue.message}${value === undefined || /KEYS?$/.test(name) || name.endsWith('URI') || name === 'REDIS_URL' ? '' : ` (got "${value}")`}`;
    });
    throw new ConfigError(`Invalid environment:\n${problems.join('\n')}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && !e.MONGODB_URI && !e.ALLOW_MEMORY_DATABASE) {
    throw new ConfigError(
      'Invalid environment:\n  MONGODB_URI: required in production, or every user, key and balance is lost on restart. ' +
        'Set MONGODB_URI=mongodb://… (or, for a throwaway demo, ALLOW_MEMORY_DATABASE=true).',
    );
  }
  if (e.WEBHOOK_SECRETS_PREVIOUS_KEYS && !e.WEBHOOK_SECRETS_KEY) {
    throw new ConfigError('Invalid environment:\n  WEBHOOK_SECRETS_PREVIOUS_KEYS: set WEBHOOK_SECRETS_KEY too, the key that replaces them.');
  }
  const trustProxy = parseTrustProxy(e.TRUST_PROXY);
  if (Array.isArray(trustProxy)) {
    try {
      proxyaddr.compile(trustProxy);
    } catch (error) {
      throw new ConfigError(`Invalid environment:\n  TRUST_PROXY: ${(error as Error).message} (got "${e.TRUST_PROXY}")`);
    }
  }
  if (e.IMAGE_STORE === 's3' && !e.S3_BUCKET) throw new ConfigError('Invalid environment:\n  S3_BUCKET: is required when IMAGE_STORE is s3');
  return {
    env: e.NODE_ENV,
    isProduction: e.NODE_ENV === 'production',
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.PUBLIC_URL?.replace(/\/+$/, ''),
    mongodbUri: e.MONGODB_URI,
    dataDir: e.DATA_DIR,
    modelsDir: e.MODELS_DIR,
    lorasDir: e.LORAS_DIR ?? path.join(e.MODELS_DIR, 'loras'),
    logLevel: e.LOG_LEVEL,
    devApiKey: e.DEV_API_KEY,
    dailyTokens: { FREE: e.FREE_DAILY_TOKENS, PLUS: e.PLUS_DAILY_TOKENS },
    gpu: {
      concurrency: e.GPU_CONCURRENCY,
      perUser: { FREE: e.FREE_CONCURRENCY, PLUS: e.PLUS_CONCURRENCY },
      leaseSeconds: e.JOB_LEASE_SECONDS,
      functionName: e.GPU_FUNCTION_NAME,
      lambdaEndpoint: e.LAMBDA_ENDPOINT?.replace(/\/+$/, ''),
      region: e.AWS_REGION,
    },
    callbackUrl: e.CALLBACK_URL?.replace(/\/+$/, ''),
    imageLinkKey: e.IMAGE_LINK_KEY,
    webhookSecretsKey: e.WEBHOOK_SECRETS_KEY,
    webhookSecretsPreviousKeys: e.WEBHOOK_SECRETS_PREVIOUS_KEYS?.split(',').map((key) => key.trim()) ?? [],
    wsAccessRecheckSeconds: e.WS_ACCESS_RECHECK_SECONDS,
    trustProxy,
    allowMemoryDatabase: e.ALLOW_MEMORY_DATABASE,
    redisUrl: e.REDIS_URL,
    corsOrigins: e.CORS_ORIGINS === undefined ? undefined : e.CORS_ORIGINS.trim() === '*' ? '*' : e.CORS_ORIGINS.split(',').map((origin) => origin.trim().replace(/\/+$/, '')),
    rateLimits: {
      generate: e.RATE_LIMIT_GENERATE,
      analyze: e.RATE_LIMIT_ANALYZE,
      uploads: e.RATE_LIMIT_UPLOADS,
      authFailures: e.RATE_LIMIT_AUTH_FAILURES,
      wsConnects: e.RATE_LIMIT_WS_CONNECTS,
    },
    queryLimits: { aliases: e.QUERY_MAX_ALIASES, depth: e.QUERY_MAX_DEPTH, tokens: e.QUERY_MAX_TOKENS, cost: e.QUERY_MAX_COST },
    webhooks: { retryDelaysMs: e.WEBHOOK_RETRY_SECONDS.split(',').map((seconds) => Number(seconds) * 1000), timeoutMs: e.WEBHOOK_TIMEOUT_SECONDS * 1000 },
    images:
      e.IMAGE_STORE === 's3'
        ? { store: 's3', bucket: e.S3_BUCKET!, region: e.S3_REGION, endpoint: e.S3_ENDPOINT, forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true' }
        : { store: 'gridfs' },
  };
}

function parseTrustProxy(value: string): Config['trustProxy'] {
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((entry) => entry.trim());
}
