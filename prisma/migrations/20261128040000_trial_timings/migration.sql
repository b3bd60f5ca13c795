-- When the training loop of the finishing attempt started, and how long it ran: with queued_at,
-- started_at (the claim) and finished_at they split a trial's wall time into queue wait, set-up,
-- training and bookkeeping (pnpm bench:orchestration reads them).

-- AlterTable
ALTER TABLE "trials" ADD COLUMN "training_started_at" TIMESTAMPTZ(3),
ADD COLUMN "train_ms" INTEGER;
