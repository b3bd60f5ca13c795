-- Fair share and priorities: a sweep's priority (higher runs first) and its limit on running
-- trials; each trial's queue priority (its deliveries' BullMQ priority: contract deliveryPriority).
-- A queued trial of a sweep with max_parallel and no job_id is held back until one of its
-- sweep's running trials ends (admitHeldTrials).

-- AlterTable
ALTER TABLE "sweeps" ADD COLUMN "priority" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "max_parallel" INTEGER;

-- AlterTable
ALTER TABLE "trials" ADD COLUMN "queue_priority" INTEGER NOT NULL DEFAULT 1;

-- The pool's next queued position, read at every submit.
CREATE INDEX "trials_pool_status_queue_priority_idx" ON "trials"("pool", "status", "queue_priority");
