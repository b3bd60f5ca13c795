import { readFileSync } from 'node:fs';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import { query } from '@lrsweep/testkit';

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object';
  type: string;
  isRequired: boolean;
  isList: boolean;
  nativeType?: [string, string[]] | null;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  fields: { name: string }[];
}
interface Dmmf {
  datamodel: { models: DmmfModel[]; enums: { name: string; dbName?: string | null }[]; indexes: DmmfIndex[] };
}

/** A column as Postgres describes it in information_schema. */
interface ColumnShape {
  type: string;
  nullable: boolean;
}

/** The Postgres type Prisma maps a scalar to (with the native types this schema uses). */
function expectedType(f: DmmfField, enums: Map<string, string>): string {
  if (f.kind === 'enum') return `enum ${enums.get(f.type) ?? f.type}`;
  if (f.isList) {
    const element: Record<string, string> = {
      Int: '_int4',
      Float: '_float8',
      String: '_text',
      BigInt: '_int8',
      Boolean: '_bool',
    };
    return `array ${element[f.type] ?? f.type}`;
  }
  const native = f.nativeType?.[0];
  switch (f.type) {
    case 'String':
      return native === 'Uuid' ? 'uuid' : 'text';
    case 'Int':
      return 'integer';
    case 'BigInt':
      return 'bigint';
    case 'Float':
      return 'double precision';
    case 'Boolean':
      return 'boolean';
    case 'Json':
      return 'jsonb';
    case 'DateTime':
      return native === 'Timestamptz' ? 'timestamp with time zone' : 'timestamp without time zone';
    default:
      return `unsupported ${f.type}`;
  }
}

/**
 * Compares `schema.prisma` (parsed by Prisma's own WASM schema engine) with a migrated database:
 * tables, columns, types, nullability, primary and unique keys, and plain indexes. Returns one
 * line per difference; none means no drift.
 */
export async function schemaDrift(url: string, schemaPath: string): Promise<string[]> {
  const dmmf = JSON.parse(
    get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', readFileSync(schemaPath, 'utf8')]] })),
  ) as Dmmf;
  const enums = new Map(dmmf.datamodel.enums.map((e) => [e.name, e.dbName ?? e.name]));
  const tableOf = new Map(dmmf.datamodel.models.map((m) => [m.name, m.dbName ?? m.name]));
  const columnOf = (model: string, field: string) => {
    const f = dmmf.datamodel.models.find((m) => m.name === model)!.fields.find((x) => x.name === field)!;
    return f.dbName ?? f.name;
  };

  const columns = await query<{
    table_name: string;
    column_name: string;
    data_type: string;
    udt_name: string;
    is_nullable: string;
  }>(
    url,
    `SELECT table_name, column_name, data_type, udt_name, is_nullable FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
  );
  const actual = new Map<string, Map<string, ColumnShape>>();
  for (const c of columns) {
    const t = actual.get(c.table_name) ?? new Map<string, ColumnShape>();
    const type =
      c.data_type === 'USER-DEFINED'
        ? `enum ${c.udt_name}`
        : c.data_type === 'ARRAY'
          ? `array ${c.udt_name}`
          : c.data_type;
    t.set(c.column_name, { type, nullable: c.is_nullable === 'YES' });
    actual.set(c.table_name, t);
  }
  const drift: string[] = [];
  for (const m of dmmf.datamodel.models) {
    const table = tableOf.get(m.name)!;
    const cols = actual.get(table);
    if (!cols) {
      drift.push(`table ${table} is missing`);
      continue;
    }
    const expected = m.fields.filter((f) => f.kind !== 'object');
    for (const f of expected) {
      const col = f.dbName ?? f.name;
      const got = cols.get(col);
      // Prisma creates scalar lists without NOT NULL.
      const want: ColumnShape = { type: expectedType(f, enums), nullable: f.isList || !f.isRequired };
      if (!got) drift.push(`${table}.${col} is missing`);
      else {
        if (got.type !== want.type) drift.push(`${table}.${col} is ${got.type}, schema.prisma says ${want.type}`);
        if (got.nullable !== want.nullable)
          drift.push(
            `${table}.${col} is ${got.nullable ? 'nullable' : 'NOT NULL'}, schema.prisma says ${want.nullable ? 'nullable' : 'required'}`,
          );
      }
    }
    for (const col of cols.keys()) {
      if (!expected.some((f) => (f.dbName ?? f.name) === col)) drift.push(`${table}.${col} is not in schema.prisma`);
    }
  }
  for (const t of actual.keys())
    if (![...tableOf.values()].includes(t)) drift.push(`table ${t} is not in schema.prisma`);

  // Keys: primary, unique and plain indexes as column lists.
  const indexes = await query<{ table_name: string; columns: string[]; is_unique: boolean; is_primary: boolean }>(
    url,
    `SELECT t.relname AS table_name, i.indisunique AS is_unique, i.indisprimary AS is_primary,
            array_agg(a.attname::text ORDER BY k.ord) AS columns
       FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public'
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
      WHERE t.relname <> '_prisma_migrations'
      GROUP BY t.relname, i.indexrelid, i.indisunique, i.indisprimary`,
  );
  const kindOf = (r: { is_primary: boolean; is_unique: boolean }) =>
    r.is_primary ? 'primary key' : r.is_unique ? 'unique key' : 'index';
  const have = new Set(indexes.map((r) => `${r.table_name} ${kindOf(r)} (${r.columns.join(', ')})`));
  const want = new Set(
    dmmf.datamodel.indexes
      .filter((i) => i.type !== 'fulltext')
      .map((i) => {
        const kind = i.type === 'id' ? 'primary key' : i.type === 'unique' ? 'unique key' : 'index';
        return `${tableOf.get(i.model)} ${kind} (${i.fields.map((f) => columnOf(i.model, f.name)).join(', ')})`;
      }),
  );
  for (const k of want) if (!have.has(k)) drift.push(`missing ${k}`);
  for (const k of have) if (!want.has(k)) drift.push(`unexpected ${k}`);
  return drift.sort();
}
