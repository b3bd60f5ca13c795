-- One numerics key per sweep (backend, TF and TF.js versions, intra-op threads, oneDNN, fused
-- kernels and their ISA copy), recorded by the first worker that starts one of its trials; every
-- trial, resume and fork trains under it. Built-in workers register the keys they can train under.

-- AlterTable
ALTER TABLE "sweeps" ADD COLUMN "numerics" JSONB;

-- AlterTable
ALTER TABLE "workers" ADD COLUMN "numerics" JSONB;
