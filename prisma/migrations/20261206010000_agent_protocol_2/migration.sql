-- Agent protocol 2. lease_token: the random secret an agent's claim hands out with an attempt;
-- every write of that attempt must carry it (a same-pool token that merely knows the attempt
-- number can no longer write). trial_tombstones: a deleted sweep's trials, kept a while so that
-- an agent still training one is told "stop: deleted" (409 STALE_ATTEMPT) rather than 404.

-- AlterTable
ALTER TABLE "trials" ADD COLUMN "lease_token" TEXT;

-- CreateTable
CREATE TABLE "trial_tombstones" (
    "trial_id" UUID NOT NULL,
    "project_id" TEXT NOT NULL,
    "pool" TEXT NOT NULL,
    "deleted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "trial_tombstones_pkey" PRIMARY KEY ("trial_id")
);

-- CreateIndex
CREATE INDEX "trial_tombstones_deleted_at_idx" ON "trial_tombstones"("deleted_at");
