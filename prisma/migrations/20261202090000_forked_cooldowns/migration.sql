-- Forked cooldowns: a trial that starts from its trunk's checkpoint at its decay start. fork_of
-- names the trunk (a trial's identity) and fork_step the fork point; fork_waiting holds the trial
-- back (no delivery) until the trunk hands it its checkpoint, or ends without doing so (then the
-- trial runs independently: fork_of and fork_step are cleared).

-- AlterTable
ALTER TABLE "trials" ADD COLUMN "fork_of" TEXT,
ADD COLUMN "fork_step" INTEGER,
ADD COLUMN "fork_waiting" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE INDEX "trials_fork_of_idx" ON "trials"("fork_of");
