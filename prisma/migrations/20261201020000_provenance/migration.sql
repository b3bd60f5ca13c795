-- Provenance: which files a trial read, relative to the worker's roots (beside the dataset
-- checksum, backend and versions it already records).

-- AlterTable
ALTER TABLE "trials" ADD COLUMN "dataset_path" TEXT,
ADD COLUMN "model_path" TEXT;
