-- A deployment's identity: one row, written the first time a worker of this database starts (never
-- by a migration: tests clone one migrated template database, and a row made here would be shared
-- by every clone). Workers keep their checkpoints under CHECKPOINT_DIR/<id>/, so two deployments
-- whose workers share one directory never touch each other's files.

-- CreateTable
CREATE TABLE "deployment" (
    "singleton" BOOLEAN NOT NULL DEFAULT true,
    "id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "deployment_pkey" PRIMARY KEY ("singleton"),
    CONSTRAINT "deployment_singleton_check" CHECK ("singleton")
);
