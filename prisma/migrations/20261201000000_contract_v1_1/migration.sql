-- v1.1 of the sweep contract (SWEEP_API.md): runners and pools, token roles, trial failure
-- budgets and error codes, the `pruned` state, and metrics beyond val_loss/val_acc/train_loss.
-- Every existing row keeps its meaning: v1 sweeps are built-in sweeps of pool "default" (their
-- stored specs have no validationSize and read as 0), admin tokens stay admins, other tokens
-- become members, and no trial has spent any of its budget.

-- AlterEnum
ALTER TYPE "TrialStatus" ADD VALUE 'pruned';

-- CreateEnum
CREATE TYPE "TokenRole" AS ENUM ('operator', 'admin', 'member', 'agent');

-- AlterTable
ALTER TABLE "api_tokens" ADD COLUMN "role" "TokenRole" NOT NULL DEFAULT 'member',
ADD COLUMN "pools" TEXT[] DEFAULT ARRAY[]::TEXT[];
UPDATE "api_tokens" SET "role" = 'admin' WHERE "admin";
ALTER TABLE "api_tokens" DROP COLUMN "admin";

-- AlterTable
ALTER TABLE "sweeps" ADD COLUMN "runner_kind" TEXT NOT NULL DEFAULT 'builtin',
ADD COLUMN "pool" TEXT NOT NULL DEFAULT 'default';

-- AlterTable
ALTER TABLE "trials" ADD COLUMN "pool" TEXT NOT NULL DEFAULT 'default',
ADD COLUMN "failures" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "failure_budget" INTEGER NOT NULL DEFAULT 3,
ADD COLUMN "error_code" TEXT,
ADD COLUMN "summaries" JSONB;

-- AlterTable
ALTER TABLE "evaluations" ADD COLUMN "metrics" JSONB;

-- AlterTable: the values of a trainer's own axes (grid.config) of a configuration.
ALTER TABLE "sweep_configs" ADD COLUMN "values" JSONB;
