import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '@lrsweep/db';
import type { RedisConnection as Redis } from '@lrsweep/queue';
import type { Registry } from 'prom-client';

export interface HealthReport {
  status: 'ok' | 'unavailable';
  consuming: boolean;
  checks: { redis: string; postgres: string; consumers: string; slots: string };
  /** Resident memory of the process, MB. */
  rssMb: number;
}

/** `p`'s outcome as a check: 'ok', the error's message, or 'timeout' after `ms`. */
const check = (p: Promise<unknown>, ms = 1000) =>
  Promise.race([p.then(() => 'ok'), new Promise<string>((r) => setTimeout(() => r('timeout'), ms).unref())]).catch(
    (err: Error) => err.message,
  );

/**
 * Whether this worker is actually consuming: Redis answers a PING (a frozen Redis does not),
 * every queue consumer runs, every training slot's thread is alive, and Postgres answers. A
 * worker can look alive yet take no jobs (after a Redis outage, with a dead slot): this says so.
 */
export async function workerHealth(deps: {
  redis: Redis;
  db: Db;
  consumersHealthy(): boolean;
  deadSlots(): number;
}): Promise<HealthReport> {
  const [redis, postgres] = await Promise.all([check(deps.redis.ping()), check(deps.db.$queryRaw`SELECT 1`)]);
  const consumers = deps.consumersHealthy() ? 'ok' : 'stopped';
  const dead = deps.deadSlots();
  const slots = dead === 0 ? 'ok' : `${dead} dead`;
  const consuming = redis === 'ok' && consumers === 'ok' && slots === 'ok';
  const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
  return {
    status: consuming && postgres === 'ok' ? 'ok' : 'unavailable',
    consuming,
    checks: { redis, postgres, consumers, slots },
    rssMb,
  };
}

/** Serves GET /healthz (200 while consuming, 503 otherwise) and GET /metrics (Prometheus text). */
export function serveHealth(
  port: number,
  report: () => Promise<HealthReport>,
  opts: { host?: string; metrics?: Registry } = {},
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics' && opts.metrics) {
      const registry = opts.metrics;
      registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch(() => res.writeHead(500).end());
      return;
    }
    if (req.url !== '/healthz') {
      res.writeHead(404).end();
      return;
    }
    report()
      .then((r) =>
        res.writeHead(r.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(r)),
      )
      .catch(() => res.writeHead(503).end());
  });
  return new Promise((resolve) =>
    server.listen(port, opts.host ?? '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port }),
    ),
  );
}
