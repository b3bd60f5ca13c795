import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPool, poolNameSchema, projectIdSchema } from '@lrsweep/contract';
import { defaultDatabaseUrl } from '@lrsweep/db';
import { defaultRedisUrl } from '@lrsweep/queue';
import { z } from 'zod';

const int = (def: number) => z.coerce.number().int().positive().default(def);

/** `gpu` (that pool of every project) or `vision/gpu` (one project's). */
const poolEntry = z.string().transform((entry, ctx) => {
  const [a, b] = entry.includes('/') ? entry.split('/', 2) : [undefined, entry];
  const pool = poolNameSchema.safeParse(b);
  const project = a === undefined ? null : projectIdSchema.safeParse(a);
  if (!pool.success || (project && !project.success)) {
    ctx.addIssue({ code: 'custom', message: `'${entry}' is not a pool ('gpu') or a project's pool ('vision/gpu')` });
    return z.NEVER;
  }
  return { projectId: project?.success ? project.data : null, pool: pool.data };
});

const schema = z.object({
  DATABASE_URL: z.string().default(defaultDatabaseUrl),
  REDIS_URL: z.string().default(defaultRedisUrl),
  /** Trials this process trains at once, each on its own thread. */
  WORKER_SLOTS: int(1),
  WORKER_ID: z.string().default(`${hostname()}-${process.pid}`),
  /** The pools this worker serves, comma-separated: `gpu` (every project's) or `vision/gpu`. */
  WORKER_POOLS: z
    .string()
    .default(defaultPool)
    .transform((s) =>
      s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean),
    )
    .pipe(z.array(poolEntry).min(1, 'name at least one pool')),
  /** How often the worker looks for projects whose pools it serves. */
  PROJECT_REFRESH_MS: int(5_000),
  LRSWEEP_BACKEND: z.enum(['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu']).default('auto'),
  /**
   * What one slot's trial may need, in MiB, by the estimate made before it trains (a trial over it
   * is refused at once, with the numbers); default: (the host's memory − 2 GiB) ÷ WORKER_SLOTS.
   */
  WORKER_SLOT_MEMORY_MB: z.coerce.number().int().min(1).optional(),
  /** The native backend's intra-op CPU threads per slot (TF_NUM_INTRAOP_THREADS wins); default: cores ÷ WORKER_SLOTS. */
  TF_THREADS: z.coerce.number().int().min(1).max(1024).optional(),
  QUEUE_PREFIX: z.string().default('lrsweep'),
  /** A running trial's lease in Postgres; renewed every third of it. */
  LEASE_MS: int(30_000),
  /** How often the worker tells the registry it is alive (GET /v1/workers shows it lost after LEASE_MS of silence). */
  WORKER_HEARTBEAT_MS: int(5_000),
  LOCK_DURATION_MS: int(30_000),
  STALLED_INTERVAL_MS: int(30_000),
  /** How often buffered metric rows are written. */
  METRICS_FLUSH_MS: int(250),
  /**
   * On SIGTERM, running trials checkpoint and are released within this budget, then the process
   * exits. 12 s fits a spot node's notice: GKE gives pods 15 s of its 30 (the manifests' grace period).
   */
  SHUTDOWN_TIMEOUT_MS: int(12_000),
  /** Datasets' paths in specs are relative to this directory (symlinks may not leave it). */
  DATA_ROOT: z.string().default('/data'),
  /** Layers models' paths in specs are relative to this directory (symlinks may not leave it). */
  MODEL_ROOT: z.string().default('/models'),
  /** Where checkpoints go: a directory every worker of the fleet can read (a shared volume). */
  CHECKPOINT_DIR: z.string().default(join(tmpdir(), 'lrsweep-checkpoints')),
  /** Take a checkpoint every this many updates. */
  CHECKPOINT_EVERY: int(200),
  /** A slot claims its next trial this long (ms) before the current one is expected to end (0: at its last update). */
  WORKER_CLAIM_AHEAD_MS: z.coerce.number().int().min(0).max(600_000).default(100),
  /** How often the checkpoint folder is swept of what no trial needs (also at start). */
  CHECKPOINT_SWEEP_MS: int(600_000),
  /** Serves GET /healthz (is this worker consuming?) and GET /metrics (Prometheus) on this port; 0 picks one, unset serves none. */
  WORKER_HEALTH_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** The address it listens on: loopback, or 0.0.0.0 in a pod (probes and scrapes come from outside). */
  WORKER_HEALTH_HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type WorkerEnv = z.infer<typeof schema>;
export type PoolSubscription = WorkerEnv['WORKER_POOLS'][number];

/** Reads and validates the worker's environment once, at start. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const r = schema.safeParse(env);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid worker environment: ${problems}`);
  }
  return r.data;
}
