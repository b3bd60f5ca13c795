import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Db } from '@lrsweep/db';
import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';

export interface HealthReport {
  status: 'ok' | 'unavailable';
  consuming: boolean;
  checks: { redis: string; postgres: string; worker: string };
}

/**
 * Whether this worker is actually consuming: its Redis connection is ready, the BullMQ worker
 * runs and is not paused, and Postgres answers. (A worker can look alive yet stop taking jobs
 * after a Redis outage; this says so.)
 */
export async function workerHealth(worker: Worker, redis: Redis, db: Db): Promise<HealthReport> {
  const pg = await Promise.race([
    db.$queryRaw`SELECT 1`.then(() => 'ok'),
    new Promise<string>((r) => setTimeout(() => r('timeout'), 1000)),
  ]).catch((err: Error) => err.message);
  const redisState = redis.status === 'ready' ? 'ok' : redis.status;
  const workerState = !worker.isRunning() ? 'stopped' : worker.isPaused() ? 'paused' : 'ok';
  const consuming = redisState === 'ok' && workerState === 'ok';
  return { status: consuming && pg === 'ok' ? 'ok' : 'unavailable', consuming, checks: { redis: redisState, postgres: pg, worker: workerState } };
}

/** Serves GET /healthz: 200 while consuming, 503 otherwise. */
export function serveHealth(port: number, report: () => Promise<HealthReport>): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url !== '/healthz') {
      res.writeHead(404).end();
      return;
    }
    report()
      .then((r) => res.writeHead(r.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(r)))
      .catch(() => res.writeHead(503).end());
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}
