-- Ranges beside the moments: per step, the smallest and largest seed of a configuration's series,
-- so a chart can draw a min–max band (v1.1 dashboards). Series stored before stay NULL (unknown).

-- AlterTable
ALTER TABLE "config_series" ADD COLUMN "lo" DOUBLE PRECISION[],
ADD COLUMN "hi" DOUBLE PRECISION[];
