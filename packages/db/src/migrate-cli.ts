// `pnpm db:migrate`: applies prisma/migrations to DATABASE_URL (created when missing).
import { defaultDatabaseUrl } from './defaults';
import { migrate } from './migrate';

const url = process.env.DATABASE_URL ?? defaultDatabaseUrl;
const log = {
  info: (o: object, m?: string) => console.log(m ?? '', JSON.stringify(o)),
  warn: (o: object, m?: string) => console.warn(m ?? '', JSON.stringify(o)),
  error: (o: object, m?: string) => console.error(m ?? '', JSON.stringify(o)),
};
try {
  const r = await migrate({ url, logger: log });
  console.log(
    `database ${new URL(url).pathname.slice(1)}: ${r.applied.length} applied, ${r.alreadyApplied.length} already applied`,
  );
} catch (err) {
  const code = (err as { code?: string }).code;
  if (code === 'ECONNREFUSED') {
    console.error(`Cannot reach PostgreSQL at ${new URL(url).host}. Start it, or set DATABASE_URL.`);
  } else console.error((err as Error).message);
  process.exit(1);
}
