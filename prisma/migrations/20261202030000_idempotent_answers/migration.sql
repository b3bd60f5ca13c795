-- A repeated Idempotency-Key of a request that is not a submit (POST /v1/sweeps/:id/extend) gets
-- the first answer back: it is kept with the key.

-- AlterTable
ALTER TABLE "idempotency_keys" ADD COLUMN "answer" JSONB;
