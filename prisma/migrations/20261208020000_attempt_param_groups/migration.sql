-- An attempt's optimizer parameter groups, as its trainer declared them (once per attempt): each
-- group's name, its multiple of the schedule's rate (group 0: 1, the rate lrsweep checks) and its
-- weight decay. Not part of the trial's identity; shown with the attempt.

-- AlterTable
ALTER TABLE "trial_attempts" ADD COLUMN "param_groups" JSONB;
