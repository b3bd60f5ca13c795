// The scaler's arithmetic: how many agent jobs to add for a pool's ready backlog.
import { describe, expect, it } from 'vitest';
import { jobsToSubmit } from './slurm';

describe('jobsToSubmit', () => {
  it('covers the ready trials, counting pending jobs and idle agents, within --max-jobs', () => {
    expect(jobsToSubmit({ ready: 12, running: 0, jobsRunning: 0, jobsPending: 0 }, 3)).toBe(3);
    expect(jobsToSubmit({ ready: 2, running: 0, jobsRunning: 0, jobsPending: 0 }, 8)).toBe(2);
    // Pending jobs will take ready trials: only what they do not cover.
    expect(jobsToSubmit({ ready: 5, running: 0, jobsRunning: 0, jobsPending: 3 }, 8)).toBe(2);
    // A running job without a running trial is an agent between trials: it takes one too.
    expect(jobsToSubmit({ ready: 5, running: 1, jobsRunning: 3, jobsPending: 0 }, 8)).toBe(3);
    // Never past --max-jobs, and nothing when the backlog is gone.
    expect(jobsToSubmit({ ready: 50, running: 4, jobsRunning: 4, jobsPending: 2 }, 6)).toBe(0);
    expect(jobsToSubmit({ ready: 0, running: 2, jobsRunning: 2, jobsPending: 0 }, 6)).toBe(0);
  });
});
