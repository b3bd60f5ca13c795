-- Per-attempt history: who ran each attempt of a trial, on what backend, from when to when, and
-- how it ended. Kept by a trigger on trials, so every path that claims, finishes, releases or
-- times out an attempt (workers, agents, the reconciler, cancel, retry) records it in the same
-- transaction, and none can forget to.

-- CreateTable
CREATE TABLE "trial_attempts" (
    "trial_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "worker_id" TEXT,
    "agent_id" UUID,
    "backend" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "ended_at" TIMESTAMPTZ(3),
    "outcome" TEXT,
    "error" TEXT,
    "error_code" TEXT,

    CONSTRAINT "trial_attempts_pkey" PRIMARY KEY ("trial_id","attempt")
);

-- AddForeignKey
ALTER TABLE "trial_attempts" ADD CONSTRAINT "trial_attempts_trial_id_fkey" FOREIGN KEY ("trial_id") REFERENCES "trials"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- The trials that already ran keep their last attempt.
INSERT INTO "trial_attempts" ("trial_id", "attempt", "worker_id", "agent_id", "backend", "started_at", "ended_at", "outcome", "error", "error_code")
SELECT "id", "attempt", "worker_id", "agent_id", "backend", "started_at", "finished_at",
       CASE WHEN "status" = 'running' THEN NULL ELSE "status"::text END, "error", "error_code"
  FROM "trials" WHERE "attempt" > 0 AND "started_at" IS NOT NULL;

CREATE FUNCTION lrsweep_record_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- An attempt ends: finished, failed, diverged, cancelled, or back to the queue (released, lapsed).
  IF OLD.status = 'running' AND (NEW.status <> 'running' OR NEW.attempt <> OLD.attempt) THEN
    UPDATE trial_attempts
       SET ended_at = now(),
           outcome = CASE WHEN NEW.status = 'queued' THEN 'requeued' ELSE NEW.status::text END,
           error = CASE WHEN NEW.status IN ('completed', 'cancelled') THEN NULL ELSE NEW.error END,
           error_code = CASE WHEN NEW.status IN ('completed', 'cancelled') THEN NULL ELSE NEW.error_code END,
           backend = coalesce(NEW.backend, backend)
     WHERE trial_id = OLD.id AND attempt = OLD.attempt;
  END IF;
  -- An attempt starts: a worker or agent claimed the trial.
  IF NEW.status = 'running' AND (OLD.status <> 'running' OR NEW.attempt <> OLD.attempt) THEN
    INSERT INTO trial_attempts (trial_id, attempt, worker_id, agent_id, started_at)
    VALUES (NEW.id, NEW.attempt, NEW.worker_id, NEW.agent_id, coalesce(NEW.started_at, now()))
    ON CONFLICT (trial_id, attempt) DO NOTHING;
  -- While it runs: who holds it and on what backend (an agent's id and a worker's backend follow the claim).
  ELSIF NEW.status = 'running' AND (NEW.backend IS DISTINCT FROM OLD.backend OR NEW.agent_id IS DISTINCT FROM OLD.agent_id OR NEW.worker_id IS DISTINCT FROM OLD.worker_id) THEN
    UPDATE trial_attempts SET backend = NEW.backend, agent_id = NEW.agent_id, worker_id = NEW.worker_id
     WHERE trial_id = NEW.id AND attempt = NEW.attempt;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER "trials_record_attempt" AFTER UPDATE OF "status", "attempt", "backend", "agent_id", "worker_id" ON "trials"
  FOR EACH ROW EXECUTE FUNCTION lrsweep_record_attempt();
