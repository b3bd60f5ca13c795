// `pnpm --filter @lrsweep/api tokens <create|list|revoke>`: manages API tokens directly in Postgres.
import { parseArgs } from 'node:util';
import { createTokenBody } from '@lrsweep/contract';
import { createDb, createToken, defaultDatabaseUrl, listTokens, revokeToken } from '@lrsweep/db';
import { createRedis, defaultRedisUrl } from '@lrsweep/queue';
import { toSpecIssues } from '@lrsweep/schedules';

const usage = `usage:
  tokens create --project <id> --name <name> [--role admin|member|agent] [--admin] [--pools a,b]   prints the new token once
  tokens list [--project <id>]
  tokens revoke <token-id>`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    project: { type: 'string' },
    name: { type: 'string' },
    role: { type: 'string' },
    admin: { type: 'boolean' },
    pools: { type: 'string' },
  },
});
const [command, arg] = positionals;

/**
 * Tells the running API processes (through Redis, as the API's own revoke route does) so they
 * drop the token at once and end its open claims; where Redis cannot be reached they learn of it
 * within TOKEN_CACHE_MS, and claims check Postgres before handing out a trial anyway.
 */
async function tellApis(tokenId: string) {
  const redis = createRedis(process.env.REDIS_URL ?? defaultRedisUrl, { use: 'requests' });
  redis.on('error', () => {});
  try {
    await Promise.race([
      redis.publish(`${process.env.QUEUE_PREFIX ?? 'lrsweep'}:tokens:revoked`, tokenId),
      new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 3000)),
    ]);
  } catch (err) {
    console.error(
      `(Redis did not answer: ${(err as Error).message}; the API processes stop accepting the token within TOKEN_CACHE_MS)`,
    );
  } finally {
    redis.disconnect();
  }
}
const { prisma, close } = createDb({ url: process.env.DATABASE_URL ?? defaultDatabaseUrl, poolSize: 1 });
const fail = (msg: string) => {
  console.error(msg);
  process.exitCode = 2;
};
try {
  if (command === 'create') {
    const body = createTokenBody.safeParse({
      projectId: values.project,
      name: values.name,
      ...(values.role ? { role: values.role } : {}),
      ...(values.admin ? { admin: true } : {}),
      ...(values.pools ? { pools: values.pools.split(',').map((p) => p.trim()) } : {}),
    });
    if (!body.success)
      fail(
        `${toSpecIssues(body.error)
          .map((i) => `--${i.path === 'projectId' ? 'project' : i.path}: ${i.message}`)
          .join('\n')}\n${usage}`,
      );
    else {
      const t = await createToken(prisma, body.data);
      console.log(
        `created token ${t.id} (${t.role}${t.pools.length ? ` of pools ${t.pools.join(', ')}` : ''}, project ${t.projectId}); store it now, it is not shown again:\n${t.token}`,
      );
    }
  } else if (command === 'list') {
    for (const t of await listTokens(prisma, values.project)) {
      console.log(
        `${t.id}  ${t.projectId.padEnd(16)} ${t.name.padEnd(20)} ${t.role.padEnd(8)} ${t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : 'active'}`,
      );
    }
  } else if (command === 'revoke' && arg) {
    if (await revokeToken(prisma, arg)) {
      console.log(`revoked ${arg}`);
      await tellApis(arg);
    } else fail(`no token ${arg}`);
  } else fail(usage);
} finally {
  await close();
}
