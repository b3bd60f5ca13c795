-- AlterTable
ALTER TABLE "evaluations" ADD COLUMN "train_loss" DOUBLE PRECISION;

-- AlterTable
ALTER TABLE "trials" ADD COLUMN "auc_train_loss" DOUBLE PRECISION,
ADD COLUMN "auc_val_acc" DOUBLE PRECISION,
ADD COLUMN "auc_val_loss" DOUBLE PRECISION,
ADD COLUMN "best_train_loss" DOUBLE PRECISION;

-- CreateTable
CREATE TABLE "sweep_configs" (
    "sweep_id" UUID NOT NULL,
    "config_id" TEXT NOT NULL,
    "base_lr" DOUBLE PRECISION NOT NULL,
    "schedule" JSONB NOT NULL,
    "schedule_key" TEXT NOT NULL,

    CONSTRAINT "sweep_configs_pkey" PRIMARY KEY ("sweep_id","config_id")
);

-- CreateTable
CREATE TABLE "config_curves" (
    "sweep_id" UUID NOT NULL,
    "config_id" TEXT NOT NULL,
    "metric" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "n" INTEGER NOT NULL,
    "sum" DOUBLE PRECISION NOT NULL,
    "sumsq" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "config_curves_pkey" PRIMARY KEY ("sweep_id","config_id","metric","step")
);

-- CreateIndex
CREATE INDEX "sweep_configs_sweep_id_schedule_key_idx" ON "sweep_configs"("sweep_id", "schedule_key");

-- AddForeignKey
ALTER TABLE "sweep_configs" ADD CONSTRAINT "sweep_configs_sweep_id_fkey" FOREIGN KEY ("sweep_id") REFERENCES "sweeps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "config_curves" ADD CONSTRAINT "config_curves_sweep_id_fkey" FOREIGN KEY ("sweep_id") REFERENCES "sweeps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Backfill: the configurations of sweeps made before this migration (their schedule key is a
-- hash of the stored schedule, consistent within each sweep).
INSERT INTO "sweep_configs" ("sweep_id", "config_id", "base_lr", "schedule", "schedule_key")
SELECT DISTINCT ON ("sweep_id", "config_id")
       "sweep_id", "config_id", ("config"->>'baseLr')::DOUBLE PRECISION, "config"->'schedule',
       'legacy-' || substr(md5(("config"->'schedule')::TEXT), 1, 9)
  FROM "trials" ORDER BY "sweep_id", "config_id";

-- Backfill: means over evaluation points of existing trials.
UPDATE "trials" t SET "auc_val_loss" = s.avl, "auc_val_acc" = s.ava
  FROM (SELECT "trial_id", avg("val_loss") AS avl, avg("val_acc") AS ava FROM "evaluations" GROUP BY "trial_id") s
 WHERE s."trial_id" = t."id";

-- Backfill: the per-configuration curves of completed trials.
INSERT INTO "config_curves" ("sweep_id", "config_id", "metric", "step", "n", "sum", "sumsq")
SELECT t."sweep_id", t."config_id", m.metric, m.step, count(*)::INTEGER, sum(m.v), sum(m.v * m.v)
  FROM "trials" t CROSS JOIN LATERAL (
    SELECT 'train_loss' AS metric, "step", "train_loss" AS v FROM "update_metrics" WHERE "trial_id" = t."id" AND "train_loss" IS NOT NULL
    UNION ALL SELECT 'lr', "step", "lr" FROM "update_metrics" WHERE "trial_id" = t."id"
    UNION ALL SELECT 'val_loss', "step", "val_loss" FROM "evaluations" WHERE "trial_id" = t."id" AND "val_loss" IS NOT NULL
    UNION ALL SELECT 'val_acc', "step", "val_acc" FROM "evaluations" WHERE "trial_id" = t."id" AND "val_acc" IS NOT NULL
  ) m
 WHERE t."status" = 'completed'
 GROUP BY t."sweep_id", t."config_id", m.metric, m.step;
