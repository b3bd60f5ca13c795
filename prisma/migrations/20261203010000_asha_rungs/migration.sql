-- ASHA searches: a trial pauses at each rung (a budget in updates), checkpointed, and is judged
-- there. rung_waiting holds it back (queued, no delivery) until its configuration is promoted or
-- pruned; pruned_rung is the rung a pruned trial stopped at. rung_results keeps each rung's
-- estimate (value null: its cooldown diverged), once per trial and rung.

-- AlterTable
ALTER TABLE "trials" ADD COLUMN "rung_waiting" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN "pruned_rung" INTEGER;

-- CreateTable
CREATE TABLE "rung_results" (
    "trial_id" UUID NOT NULL,
    "rung" INTEGER NOT NULL,
    "step" INTEGER NOT NULL,
    "value" DOUBLE PRECISION,
    "cooldown_steps" INTEGER NOT NULL,
    "recorded_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "rung_results_pkey" PRIMARY KEY ("trial_id","rung")
);

-- AddForeignKey
ALTER TABLE "rung_results" ADD CONSTRAINT "rung_results_trial_id_fkey" FOREIGN KEY ("trial_id") REFERENCES "trials"("id") ON DELETE CASCADE ON UPDATE CASCADE;
