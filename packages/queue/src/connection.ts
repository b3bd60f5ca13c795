import { Cluster, Redis, type RedisOptions as IORedisOptions } from 'ioredis';

/** The local development Redis when REDIS_URL is not set. */
export const defaultRedisUrl = 'redis://127.0.0.1:6379';

/** A single Redis or a Redis Cluster (REDIS_URL `redis-cluster://host:port,host:port…`). */
export type RedisConnection = Redis | Cluster;

export interface RedisOptions {
  /**
   * `consumer` (BullMQ workers' blocking connections): commands wait for a reconnect instead of
   * failing. `requests` (the API's request path): a command fails within `commandTimeoutMs`
   * when Redis is down or frozen, so no request hangs on it.
   */
  use?: 'consumer' | 'requests';
  commandTimeoutMs?: number;
}

const clusterScheme = /^rediss?-cluster:\/\//;

/**
 * A Redis Cluster's address: `redis-cluster://[user:password@]host:port,host:port…` (seed
 * nodes; the rest are discovered), `rediss-cluster://` for TLS. Null for a plain `redis://` URL.
 */
export function parseClusterUrl(
  url: string,
): { nodes: { host: string; port: number }[]; username?: string; password?: string; tls: boolean } | null {
  if (!clusterScheme.test(url)) return null;
  const tls = url.startsWith('rediss');
  const rest = url.replace(clusterScheme, '');
  const at = rest.lastIndexOf('@');
  const auth = at >= 0 ? rest.slice(0, at) : '';
  const hosts = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/.*$/, '');
  const nodes = hosts.split(',').map((h) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(h.trim());
    if (!m)
      throw new Error(`REDIS_URL: '${h}' is not host:port (a cluster URL lists its seed nodes as host:port,host:port)`);
    return { host: m[1]!, port: Number(m[2]) };
  });
  const [user, password] = auth.includes(':') ? auth.split(':', 2) : [undefined, auth || undefined];
  return {
    nodes,
    tls,
    ...(user ? { username: decodeURIComponent(user) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
  };
}

/** An ioredis connection (a Cluster for a `redis-cluster://` URL); reconnects back off up to 2 s, forever. */
export function createRedis(url: string, opts: RedisOptions = {}): RedisConnection {
  const failFast = opts.use === 'requests';
  const options: IORedisOptions = {
    // Commands wait for a (re)connection in the offline queue, but never longer than the timeout.
    maxRetriesPerRequest: failFast ? 1 : null,
    ...(failFast
      ? { commandTimeout: opts.commandTimeoutMs ?? 2000, connectTimeout: opts.commandTimeoutMs ?? 2000 }
      : {}),
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  const cluster = parseClusterUrl(url);
  if (!cluster) return new Redis(url, options);
  return new Cluster(cluster.nodes, {
    redisOptions: {
      ...options,
      ...(cluster.username ? { username: cluster.username } : {}),
      ...(cluster.password ? { password: cluster.password } : {}),
      ...(cluster.tls ? { tls: {} } : {}),
    },
    clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
    // A failover moves slots: follow MOVED/ASK and refresh the slot map rather than fail.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 200,
    slotsRefreshTimeout: 2000,
    ...(failFast ? {} : { maxRedirections: 64 }),
  });
}

/** A second connection like `conn` with some options changed (a Cluster's apply to each node). */
export function duplicateRedis(conn: RedisConnection, overrides: IORedisOptions): RedisConnection {
  if (conn instanceof Cluster) {
    const { enableOfflineQueue, lazyConnect, ...perNode } = overrides;
    return conn.duplicate(undefined, {
      ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
      ...(lazyConnect !== undefined ? { lazyConnect } : {}),
      redisOptions: { ...conn.options.redisOptions, ...perNode },
    });
  }
  return conn.duplicate(overrides);
}

/**
 * The key prefix BullMQ is given. On a Cluster every key of a queue must hash to one slot
 * (BullMQ's scripts touch several at once), so the prefix is hash-tagged — `lrsweep` becomes
 * `{lrsweep}` — unless it already carries a `{…}` tag. A single Redis keeps it as it is.
 */
export function queuePrefix(conn: RedisConnection, prefix: string): string {
  if (!(conn instanceof Cluster) || /\{[^}]+\}/.test(prefix)) return prefix;
  return `{${prefix}}`;
}

/**
 * Redis must not evict keys (BullMQ's queues would silently lose jobs): answers a warning when
 * `maxmemory-policy` is not `noeviction` on any master, null when all is well or when the server
 * does not let us read its configuration (managed Redis often hides CONFIG).
 */
export async function evictionWarning(conn: RedisConnection): Promise<string | null> {
  const nodes: Redis[] = conn instanceof Cluster ? conn.nodes('master') : [conn];
  const bad: string[] = [];
  for (const n of nodes) {
    try {
      const answer = (await n.config('GET', 'maxmemory-policy')) as string[];
      const policy = answer[1];
      if (policy && policy !== 'noeviction')
        bad.push(`${n.options.host}:${n.options.port} has maxmemory-policy ${policy}`);
    } catch {
      // CONFIG may be disabled; nothing to check then.
    }
  }
  return bad.length
    ? `Redis may evict queue keys (${bad.join('; ')}): set maxmemory-policy noeviction, or trials can be held up until the reconciler re-enqueues them`
    : null;
}
