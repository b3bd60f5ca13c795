-- One active autoscaler (`lrsweep slurm up`) per project and pool: the scaler holds this lease
-- through the API and renews it; a second scaler finds it held and submits nothing, and takes
-- over only once the holder stops renewing.

-- CreateTable
CREATE TABLE "scaler_leases" (
    "project_id" TEXT NOT NULL,
    "pool" TEXT NOT NULL,
    "holder" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "acquired_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "scaler_leases_pkey" PRIMARY KEY ("project_id","pool")
);

-- AddForeignKey
ALTER TABLE "scaler_leases" ADD CONSTRAINT "scaler_leases_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
