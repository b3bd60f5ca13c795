-- A horizon axis (grid.horizon, SWEEP_API.md v1.1): a configuration is base LR × schedule ×
-- horizon (its T in updates) when the sweep has one; null when its horizon is the sweep's epochs.

-- AlterTable
ALTER TABLE "sweep_configs" ADD COLUMN "horizon" INTEGER;
