import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { redisUrl } from './services';

/** A queue prefix of the test's own, so tests never see each other's jobs. */
export const uniquePrefix = () => `lrsweep-test-${randomBytes(4).toString('hex')}`;

/** Deletes every key under a prefix. */
export async function deletePrefix(prefix: string, url = redisUrl): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
