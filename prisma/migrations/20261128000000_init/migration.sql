-- CreateEnum
CREATE TYPE "TrialStatus" AS ENUM ('queued', 'running', 'completed', 'failed', 'diverged', 'cancelled');

-- CreateTable
CREATE TABLE "sweeps" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "spec" JSONB NOT NULL,
    "objective" JSONB NOT NULL,
    "trial_count" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "cancelled_at" TIMESTAMPTZ(3),

    CONSTRAINT "sweeps_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "trials" (
    "id" UUID NOT NULL,
    "sweep_id" UUID NOT NULL,
    "identity" TEXT NOT NULL,
    "config_id" TEXT NOT NULL,
    "ordinal" INTEGER NOT NULL,
    "config" JSONB NOT NULL,
    "status" "TrialStatus" NOT NULL DEFAULT 'queued',
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "worker_id" TEXT,
    "lease_expires_at" TIMESTAMPTZ(3),
    "total_steps" INTEGER NOT NULL,
    "queued_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "error" TEXT,
    "diverged_at_step" INTEGER,
    "final_train_loss" DOUBLE PRECISION,
    "final_val_loss" DOUBLE PRECISION,
    "final_val_acc" DOUBLE PRECISION,
    "best_val_loss" DOUBLE PRECISION,
    "best_val_acc" DOUBLE PRECISION,
    "lrsweep_version" TEXT,
    "tfjs_version" TEXT,
    "backend" TEXT,
    "dataset_checksum" TEXT,
    "hardware" JSONB,

    CONSTRAINT "trials_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "update_metrics" (
    "trial_id" UUID NOT NULL,
    "step" INTEGER NOT NULL,
    "lr" DOUBLE PRECISION NOT NULL,
    "train_loss" DOUBLE PRECISION,
    "attempt" INTEGER NOT NULL,

    CONSTRAINT "update_metrics_pkey" PRIMARY KEY ("trial_id","step")
);

-- CreateTable
CREATE TABLE "evaluations" (
    "trial_id" UUID NOT NULL,
    "step" INTEGER NOT NULL,
    "val_loss" DOUBLE PRECISION,
    "val_acc" DOUBLE PRECISION,
    "attempt" INTEGER NOT NULL,

    CONSTRAINT "evaluations_pkey" PRIMARY KEY ("trial_id","step")
);

-- CreateIndex
CREATE INDEX "sweeps_created_at_idx" ON "sweeps"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "trials_identity_key" ON "trials"("identity");

-- CreateIndex
CREATE INDEX "trials_sweep_id_status_idx" ON "trials"("sweep_id", "status");

-- CreateIndex
CREATE INDEX "trials_sweep_id_config_id_idx" ON "trials"("sweep_id", "config_id");

-- AddForeignKey
ALTER TABLE "trials" ADD CONSTRAINT "trials_sweep_id_fkey" FOREIGN KEY ("sweep_id") REFERENCES "sweeps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "update_metrics" ADD CONSTRAINT "update_metrics_trial_id_fkey" FOREIGN KEY ("trial_id") REFERENCES "trials"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluations" ADD CONSTRAINT "evaluations_trial_id_fkey" FOREIGN KEY ("trial_id") REFERENCES "trials"("id") ON DELETE CASCADE ON UPDATE CASCADE;
