-- External agents (and, later, built-in workers) in one registry; which agent holds a trial,
-- and when its trainer last reported progress (an agent that heartbeats but trains nothing
-- loses its trial like a dead one).

-- CreateTable
CREATE TABLE "workers" (
    "id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "project_id" TEXT,
    "name" TEXT NOT NULL,
    "pool" TEXT NOT NULL,
    "labels" JSONB,
    "framework" TEXT,
    "device" TEXT,
    "host" TEXT,
    "sdk" TEXT,
    "protocol_version" INTEGER,
    "registered_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "workers_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "workers_project_id_last_heartbeat_at_idx" ON "workers"("project_id", "last_heartbeat_at");

-- AlterTable
ALTER TABLE "trials" ADD COLUMN "agent_id" UUID,
ADD COLUMN "last_progress_at" TIMESTAMPTZ(3);
