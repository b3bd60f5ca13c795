-- One row per configuration series (arrays over steps) instead of one row per step.

-- CreateTable
CREATE TABLE "config_series" (
    "sweep_id" UUID NOT NULL,
    "config_id" TEXT NOT NULL,
    "metric" TEXT NOT NULL,
    "steps" INTEGER[],
    "n" INTEGER[],
    "sum" DOUBLE PRECISION[],
    "sumsq" DOUBLE PRECISION[],

    CONSTRAINT "config_series_pkey" PRIMARY KEY ("sweep_id","config_id","metric")
);

-- AddForeignKey
ALTER TABLE "config_series" ADD CONSTRAINT "config_series_sweep_id_fkey" FOREIGN KEY ("sweep_id") REFERENCES "sweeps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Move what config_curves held.
INSERT INTO "config_series" ("sweep_id", "config_id", "metric", "steps", "n", "sum", "sumsq")
SELECT "sweep_id", "config_id", "metric", array_agg("step" ORDER BY "step"), array_agg("n" ORDER BY "step"),
       array_agg("sum" ORDER BY "step"), array_agg("sumsq" ORDER BY "step")
  FROM "config_curves" GROUP BY "sweep_id", "config_id", "metric";

-- DropTable
DROP TABLE "config_curves";
