// `pnpm --filter @lrsweep/api tokens <create|list|revoke>`: manages API tokens directly in Postgres.
import { parseArgs } from 'node:util';
import { createDb, createToken, defaultDatabaseUrl, listTokens, revokeToken } from '@lrsweep/db';
import { projectIdSchema } from './routes/admin-routes';

const usage = `usage:
  tokens create --project <id> --name <name> [--admin]   prints the new token once
  tokens list [--project <id>]
  tokens revoke <token-id>`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { project: { type: 'string' }, name: { type: 'string' }, admin: { type: 'boolean', default: false } },
});
const [command, arg] = positionals;
const { prisma, close } = createDb({ url: process.env.DATABASE_URL ?? defaultDatabaseUrl, poolSize: 1 });
const fail = (msg: string) => {
  console.error(msg);
  process.exitCode = 2;
};
try {
  if (command === 'create') {
    const project = projectIdSchema.safeParse(values.project);
    if (!project.success || !values.name) fail(`${project.success ? '--name is required' : `--project: ${project.error.issues[0]?.message}`}\n${usage}`);
    else {
      const t = await createToken(prisma, { projectId: project.data, name: values.name, admin: values.admin });
      console.log(`created token ${t.id} (${t.admin ? 'admin, ' : ''}project ${t.projectId}); store it now, it is not shown again:\n${t.token}`);
    }
  } else if (command === 'list') {
    for (const t of await listTokens(prisma, values.project)) {
      console.log(`${t.id}  ${t.projectId.padEnd(16)} ${t.name.padEnd(20)} ${t.admin ? 'admin ' : '      '} ${t.revokedAt ? `revoked ${t.revokedAt.toISOString()}` : 'active'}`);
    }
  } else if (command === 'revoke' && arg) {
    if (await revokeToken(prisma, arg)) console.log(`revoked ${arg}`);
    else fail(`no token ${arg}`);
  } else fail(usage);
} finally {
  await close();
}
