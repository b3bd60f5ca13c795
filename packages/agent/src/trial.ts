// A claimed trial: what the trainer asks (rates, rungs) and reports (updates, evaluations,
// checkpoints, rungs), buffered and sent in order, and how its attempt ends.
import type { ClaimedTrial, ReportAnswer, RungAnswer } from '@lrsweep/contract';
import { type Api, jittered, LrsweepError, StaleAttempt, TerminalError } from './api';

/** What a trial needs of its agent: whether it is shutting down. */
export interface TrialOwner {
  readonly stopping: boolean;
}

type UpdateRow = { step: number; lr: number; loss: number | null };
/** A report waiting to be sent, in the order the trainer made it. */
type Report =
  | { kind: 'updates'; row: UpdateRow }
  | { kind: 'evals'; body: { step: number; metrics: Record<string, number | null> } };
const finiteOrNull = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? null : v;

/** A claimed trial. `await trial.run(async () => …)` completes, releases or fails it for you. */
export class Trial {
  readonly id: string;
  readonly sweepId: string;
  readonly attempt: number;
  readonly seed: number;
  readonly baseLr: number;
  readonly totalSteps: number;
  readonly evalEvery: number;
  readonly stepsPerEpoch: number | null;
  readonly schedule: ClaimedTrial['schedule'];
  readonly config: Record<string, unknown>;
  readonly resumeStep: number;
  readonly checkpointUri: string | null;
  /**
   * Updates after which this trial must checkpoint (`checkpointed(step, uri)`) and keep the file
   * until its sweep ends: a horizon axis's shorter trials fork from it.
   */
  readonly mustCheckpointAt: ReadonlySet<number>;
  /**
   * An ASHA trial's next rung (null otherwise, and past its last): after `rung.step` updates the
   * trial checkpoints (the marker after update `rung.step − 1` is in `mustCheckpointAt`), trains
   * the rung's cooldown (`rungCooldownLr()`), evaluates and calls `reportRung`.
   */
  readonly rung: ClaimedTrial['rung'];
  /** What the trial came to on the server when `reportRung` stopped it: paused at its rung, or pruned. */
  status: string | null = null;
  /** The attempt's secret from the claim: every write carries it. */
  readonly leaseToken: string;
  /** Why the trial stopped on the server's side (a stale attempt, a schedule mismatch), if it did. */
  error: LrsweepError | null = null;
  /** Why the server said stop (cancelled, deleted, superseded, lease_lost, ended), once it did. */
  stopReason: string | null = null;
  private batch = 2000;
  /** When the lease lapses unless renewed: a renewal's retries stop before then. */
  private leaseUntil: number;
  private readonly leaseMs: number;
  private stopped = false;
  private ended = false;
  private outbox: Report[] = [];
  private flushing: Promise<void> | null = null;
  private readonly chunks = new Map<number, number[]>();
  private readonly plateau: boolean;
  private readonly timers: NodeJS.Timeout[];

  constructor(
    private readonly agent: TrialOwner,
    private readonly api: Api,
    t: ClaimedTrial,
  ) {
    this.id = t.id;
    this.sweepId = t.sweepId;
    this.attempt = t.attempt;
    this.seed = t.seed;
    this.baseLr = t.baseLr;
    this.totalSteps = t.totalSteps;
    this.evalEvery = t.evalEvery;
    this.stepsPerEpoch = t.stepsPerEpoch;
    this.schedule = t.schedule;
    this.config = t.config;
    this.resumeStep = t.resumeStep;
    this.checkpointUri = t.checkpointUri;
    this.mustCheckpointAt = new Set(t.mustCheckpointAt ?? []);
    this.rung = t.rung ?? null;
    this.leaseToken = t.leaseToken;
    this.leaseMs = t.leaseMs;
    this.leaseUntil = Date.now() + t.leaseMs;
    this.plateau = JSON.stringify(t.schedule).includes('reduce_on_plateau');
    // The claim brought the first chunk of rates (from the resume step's thousand on).
    this.chunks.set(t.lr.from, t.lr.lr);
    this.timers = [
      setInterval(() => void this.flush().catch(() => {}), 500),
      setInterval(
        () =>
          void this.call<ReportAnswer>('POST', 'lease', this.fenced({}), {
            retryForMs: Math.max(500, this.leaseUntil - Date.now() - 1000),
          })
            .then((a) => this.report(a))
            .catch(() => {}),
        Math.max(200, t.leaseMs / 3),
      ),
    ];
  }

  /** True once the trial was cancelled, its lease lost, it ended on the server, or the agent is stopping. */
  get shouldStop(): boolean {
    return this.stopped || this.agent.stopping;
  }

  /** The rate for update `step` (0-based), as lrsweep computes it (fetched in chunks of 1 000). */
  async lr(step: number): Promise<number> {
    if (step < 0 || step >= this.totalSteps) throw new RangeError(`step ${step} is outside 0 … ${this.totalSteps - 1}`);
    const from = Math.floor(step / 1000) * 1000;
    let rates = this.chunks.get(from);
    if (!rates) {
      rates = (
        await this.call<{ lr: number[] }>(
          'GET',
          `lr?attempt=${this.attempt}&from=${from}&count=1000&leaseToken=${encodeURIComponent(this.leaseToken)}`,
        )
      ).lr;
      this.chunks.set(from, rates);
    }
    return rates[step - from]!;
  }

  /** One update (buffered, sent in batches in the background). `lr` is the rate applied: pass what `lr(step)` gave. */
  log(step: number, o: { loss: number | null; lr: number }): void {
    this.outbox.push({ kind: 'updates', row: { step, lr: o.lr, loss: finiteOrNull(o.loss) } });
  }

  /**
   * An evaluation after `step` updates (`test_*` only at `totalSteps`), sent in the background
   * after the updates before it (awaited under a plateau schedule: its next rates depend on it).
   */
  async evaluate(step: number, metrics: Record<string, number | null>): Promise<void> {
    const m = Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, finiteOrNull(v)]));
    this.outbox.push({ kind: 'evals', body: { step, metrics: m } });
    if (this.plateau) {
      await this.flush(true);
      this.chunks.clear();
    }
  }

  /** State covering updates 0 … `step` is saved at `uri`: a retry resumes at `step + 1` (when the trial must stop, this only sets `shouldStop`). */
  async checkpointed(step: number, uri: string): Promise<void> {
    await this.flush(true);
    if (this.stopReason) return;
    this.report(
      await this.call<ReportAnswer>('POST', 'checkpoints', this.fenced({ step, uri })).catch((e) =>
        this.staleIsFine(e),
      ),
    );
  }

  /**
   * The rates of the next rung's cooldown side branch, one per update (none when the rung is
   * judged on the metric as it stands): from where the schedule is at the rung down to zero.
   */
  async rungCooldownLr(): Promise<number[]> {
    if (!this.rung) throw new Error(`trial ${this.id} has no rung to be judged at`);
    const q = `rung?attempt=${this.attempt}&leaseToken=${encodeURIComponent(this.leaseToken)}`;
    return (await this.call<RungAnswer>('GET', q)).lr;
  }

  /**
   * The trial judged at its rung, after its checkpoint there: the side branch's `{lr, loss}` per
   * update, in order (kept out of the trial's series), then the evaluation after it. The attempt
   * ends: the trial waits at its rung for its configuration's decision and goes on from that
   * checkpoint in a new attempt once promoted. Answers `paused` or `pruned` (null when it had to stop anyway).
   */
  async reportRung(
    cooldown: { lr: number; loss: number | null }[],
    metrics: Record<string, number | null>,
  ): Promise<string | null> {
    if (!this.rung) throw new Error(`trial ${this.id} has no rung to be judged at`);
    await this.flush(true);
    const body = this.fenced({
      index: this.rung.index,
      cooldown: cooldown.map((r) => ({ lr: r.lr, loss: finiteOrNull(r.loss) })),
      metrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, finiteOrNull(v)])),
    });
    const a = await this.call<ReportAnswer>('POST', 'rung', body).catch((e) => this.staleIsFine(e));
    this.status = a?.status ?? null;
    this.end();
    return this.status;
  }

  /** Every update was sent: the trial is done. A trial that must stop ends without an error (see `stopReason`). */
  async complete(): Promise<void> {
    await this.flush(true);
    if (!this.stopReason) await this.call('POST', 'complete', this.fenced({})).catch((e) => this.staleIsFine(e));
    this.end();
  }

  async fail(message: string, o: { retryable?: boolean } = {}): Promise<void> {
    await this.flush().catch(() => {});
    if (!this.stopReason)
      await this.call(
        'POST',
        'fail',
        this.fenced({ message: message.slice(0, 4000) || 'failed', retryable: o.retryable ?? true }),
      ).catch((e) => this.staleIsFine(e));
    this.end();
  }

  /** Gives the trial back for another agent (it resumes from the last marker); no failure. */
  async release(): Promise<void> {
    await this.flush().catch(() => {});
    if (!this.stopReason) await this.call('POST', 'release', this.fenced({})).catch((e) => this.staleIsFine(e));
    this.end();
  }

  /**
   * Runs the trainer: completes on a normal return, unless `shouldStop` was set (then it only
   * releases); fails on a throw (not retryable for a `TerminalError`). A stop the server asked
   * for (a `StaleAttempt`, e.g. from `lr()`) ends the trial quietly: undefined is returned.
   */
  async run<T>(train: (trial: Trial) => Promise<T>): Promise<T | undefined> {
    try {
      const out = await train(this);
      if (!this.ended) await (this.shouldStop ? this.release() : this.complete());
      return out;
    } catch (err) {
      if (err instanceof StaleAttempt) {
        this.end();
        return undefined;
      }
      if (!this.ended)
        await this.fail(`${(err as Error).name}: ${(err as Error).message}`, {
          retryable: !(err instanceof TerminalError),
        });
      throw err;
    }
  }

  get isEnded() {
    return this.ended;
  }

  private staleIsFine(e: unknown): null {
    if (!(e instanceof StaleAttempt)) throw e;
    return null;
  }

  /** A write's body with what fences it: the attempt and its lease token. */
  private fenced<B extends object>(body: B): B & { attempt: number; leaseToken: string } {
    return { ...body, attempt: this.attempt, leaseToken: this.leaseToken };
  }

  private report(a: ReportAnswer | null) {
    if (a?.shouldStop) this.stopped = true;
  }

  private async call<T>(
    method: string,
    what: string,
    body?: unknown,
    o: { retryForMs?: number; retryThrottled?: boolean } = {},
  ): Promise<T> {
    try {
      const answer = await this.api.call<T>(method, `/v1/trials/${this.id}/${what}`, body, o);
      if (method === 'POST') this.leaseUntil = Date.now() + this.leaseMs;
      return answer;
    } catch (err) {
      if (err instanceof StaleAttempt) this.stopReason = err.reason;
      // SCHEDULE_MISMATCH ended the trial; LEASE_MISMATCH means this client does not send the lease token it was given.
      if (
        err instanceof LrsweepError &&
        (err.code === 'STALE_ATTEMPT' || err.code === 'SCHEDULE_MISMATCH' || err.code === 'LEASE_MISMATCH')
      ) {
        this.error = err;
        this.stopped = true;
      }
      throw err;
    }
  }

  /** The outbox's first report: a run of update rows (one batch, at most `limit`) or one evaluation. */
  private nextReport(limit: number): { kind: 'updates' | 'evals'; body: unknown; n: number } | null {
    const first = this.outbox[0];
    if (!first || limit <= 0) return null;
    if (first.kind === 'evals') return { kind: 'evals', body: this.fenced(first.body), n: 1 };
    const rows: UpdateRow[] = [];
    for (const r of this.outbox) {
      if (r.kind !== 'updates' || rows.length === Math.min(this.batch, limit)) break;
      rows.push(r.row);
    }
    return { kind: 'updates', body: this.fenced({ updates: rows }), n: rows.length };
  }

  /**
   * Sends the outbox in order, a report leaving it once taken (`strict`: a schedule mismatch is
   * thrown). Only what was reported before the flush began: rows logged meanwhile wait for the
   * next flush (chasing them would post a few rows at a time, as fast as the trainer makes them).
   */
  private async flush(strict = false): Promise<void> {
    while (this.flushing) await this.flushing;
    this.flushing = (async () => {
      let budget = this.outbox.length;
      for (let next = this.nextReport(budget); next; next = this.nextReport(budget)) {
        try {
          this.report(await this.call<ReportAnswer>('POST', next.kind, next.body, { retryThrottled: false }));
          this.outbox.splice(0, next.n);
          budget -= next.n;
        } catch (err) {
          // Throttled: wait as told, then send what piled up meanwhile in bigger batches (the protocol's most).
          if (err instanceof LrsweepError && err.status === 429) {
            this.batch = 10_000;
            await new Promise((r) =>
              setTimeout(r, jittered((err as LrsweepError & { retryAfterMs?: number }).retryAfterMs ?? 1000)),
            );
            // What piled up meanwhile goes out too, in the bigger batches.
            budget = this.outbox.length;
            continue;
          }
          if (
            err instanceof LrsweepError &&
            (err.code === 'STALE_ATTEMPT' || err.code === 'SCHEDULE_MISMATCH' || err.code === 'LEASE_MISMATCH')
          ) {
            this.outbox = [];
            if (strict && err.code === 'SCHEDULE_MISMATCH') throw err;
            return;
          }
          throw err;
        }
      }
    })().finally(() => {
      this.flushing = null;
    });
    await this.flushing;
  }

  private end() {
    this.ended = true;
    this.stopped = true;
    this.timers.forEach(clearInterval);
  }
}
