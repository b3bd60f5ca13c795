-- On a horizon axis one grid entry becomes a schedule per horizon (its fractions resolve against
-- each): schedule_family keys the entry (and trainer axis values), so "loss against horizon" can
-- follow one schedule across budgets. Null for sweeps stored before it.

-- AlterTable
ALTER TABLE "sweep_configs" ADD COLUMN "schedule_family" TEXT;
