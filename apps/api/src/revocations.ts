import { duplicateRedis, type RedisConnection as Redis } from '@lrsweep/queue';
import type { Logger } from 'pino';

/**
 * Token revocations, told to every API process at once: the revoking process publishes the
 * token's id on a Redis channel (under the queue prefix, so deployments sharing a Redis stay
 * apart), and each process drops that token from its cache and ends its open long polls with
 * 401. Local listeners hear of it directly too, so a Redis that is down delays nothing here
 * (other processes then learn of it within their token cache time, and a claim re-checks
 * Postgres before it hands out a trial anyway).
 */
export function createRevocations(redis: Redis, prefix: string, log?: Logger) {
  const channel = `${prefix}:tokens:revoked`;
  const listeners = new Map<string, Set<() => void>>();
  const everyRevocation = new Set<(tokenId: string) => void>();
  const tell = (tokenId: string) => {
    for (const f of everyRevocation) f(tokenId);
    for (const f of listeners.get(tokenId) ?? []) f();
  };
  // A subscriber connection of its own (a subscribed connection can do nothing else); ioredis
  // subscribes again after a reconnect.
  const sub = duplicateRedis(redis, { commandTimeout: undefined, maxRetriesPerRequest: null });
  sub.on('error', () => {});
  sub.on('message', (ch: string, tokenId: string) => {
    if (ch === channel) tell(tokenId);
  });
  const subscribed = sub
    .subscribe(channel)
    .catch((err: Error) =>
      log?.warn(
        { err },
        'could not subscribe to token revocations; other API processes will learn of them within TOKEN_CACHE_MS',
      ),
    );

  return {
    /** Resolves once this process hears of revocations published elsewhere. */
    ready: () => subscribed.then(() => {}),
    /** Tells this process and every other that `tokenId` was revoked. */
    async publish(tokenId: string) {
      tell(tokenId);
      await redis
        .publish(channel, tokenId)
        .catch((err: Error) =>
          log?.warn(
            { err },
            'could not publish a token revocation; other API processes will learn of it within TOKEN_CACHE_MS',
          ),
        );
    },
    /** Calls `f` when `tokenId` is revoked, until the returned function is called. */
    onRevoked(tokenId: string, f: () => void): () => void {
      let set = listeners.get(tokenId);
      if (!set) listeners.set(tokenId, (set = new Set()));
      set.add(f);
      return () => {
        set.delete(f);
        if (!set.size) listeners.delete(tokenId);
      };
    },
    /** Calls `f` on every revocation (the token cache drops the token). */
    onAny(f: (tokenId: string) => void) {
      everyRevocation.add(f);
    },
    close: () => sub.disconnect(),
  };
}
export type Revocations = ReturnType<typeof createRevocations>;
