-- One registry for built-in workers and external agents: built-in workers register too (kind
-- "worker", no project: they serve every project's pools) with their slots, backend and version,
-- heartbeat, and record when they stopped cleanly.

-- AlterTable
ALTER TABLE "workers" ADD COLUMN "slots" INTEGER,
ADD COLUMN "backend" TEXT,
ADD COLUMN "version" TEXT,
ADD COLUMN "stopped_at" TIMESTAMPTZ(3);
