/**
 * The only package that runs Prisma generation or imports the generated client. Apps create the
 * client with `createDb` and pass it down; the helpers here are the typed queries they share.
 */
export {
  checkDatabase,
  createDb,
  type Db,
  type DbHandle,
  type CreateDbOptions,
  type MinimalLogger,
  redactUrl,
} from './create-db';
export { migrate, ensureDatabase, defaultMigrationsDir, type MigrateResult } from './migrate';
export { defaultDatabaseUrl } from './defaults';
export * from './trial-store';
export * from './metric-store';
export * from './sweep-store';
export * from './numerics-view';
export * from './token-store';
export * from './delivery-store';
export * from './results-store';
export * from './agent-store';
export * from './fork-store';
export { Prisma } from './generated/prisma/client.ts';
export * from './asha-store';
export * from './deployment-store';
export * from './scaler-store';
