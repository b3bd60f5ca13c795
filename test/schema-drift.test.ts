// schema.prisma and the SQL migrations must describe the same database.
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, query, type TestDatabase } from '@lrsweep/testkit';
import { schemaDrift } from './support/schema-drift';

const schemaPath = fileURLToPath(new URL('../prisma/schema.prisma', import.meta.url));

describe('schema drift', () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => Promise.all(dbs.map((d) => d.drop())));

  it('the migrated database matches schema.prisma', async () => {
    const db = await createTestDatabase('drift');
    dbs.push(db);
    expect(await schemaDrift(db.url, schemaPath)).toEqual([]);
    const applied = await query<{ migration_name: string; applied_steps_count: number; checksum: string }>(
      db.url,
      'SELECT migration_name, applied_steps_count, checksum FROM _prisma_migrations WHERE finished_at IS NOT NULL',
    );
    expect(applied.length).toBeGreaterThan(0);
    for (const m of applied) {
      expect(m.applied_steps_count).toBe(1);
      expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it.each([
    [
      'a column made nullable',
      'ALTER TABLE trials ALTER COLUMN total_steps DROP NOT NULL',
      'trials.total_steps is nullable, schema.prisma says required',
    ],
    [
      'a column made required',
      'ALTER TABLE trials ALTER COLUMN error SET NOT NULL',
      'trials.error is NOT NULL, schema.prisma says nullable',
    ],
    [
      'a column of another type',
      'ALTER TABLE evaluations ALTER COLUMN val_acc TYPE real',
      'evaluations.val_acc is real, schema.prisma says double precision',
    ],
    ['a column dropped', 'ALTER TABLE sweeps DROP COLUMN cancelled_at', 'sweeps.cancelled_at is missing'],
    ['a column added', 'ALTER TABLE sweeps ADD COLUMN owner text', 'sweeps.owner is not in schema.prisma'],
    [
      'the (trial, step) key dropped',
      'ALTER TABLE update_metrics DROP CONSTRAINT update_metrics_pkey',
      'missing update_metrics primary key (trial_id, step)',
    ],
    ['the identity key dropped', 'DROP INDEX trials_identity_key', 'missing trials unique key (identity)'],
  ])('catches %s', async (_name, sql, expected) => {
    const db = await createTestDatabase('drift');
    dbs.push(db);
    await query(db.url, sql);
    expect(await schemaDrift(db.url, schemaPath)).toContain(expected);
  });
});
