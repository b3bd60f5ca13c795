/**
 * lrsweep's agent SDK for Node: run the trials of a pool with your own trainer (TF.js or any
 * other). The same surface as the Python SDK (packages/agent-python), in camelCase; the rates come
 * from the server (packages/schedules): no second schedule implementation. See docs/agents.md.
 */
import type { ClaimedTrial } from '@lrsweep/contract';
import { Api, jittered, LrsweepError, sleep } from './api';
import { Trial } from './trial';

export { LrsweepError, StaleAttempt, TerminalError } from './api';
export { Trial } from './trial';

/** Agent protocol 2: writes carry the claim's lease token; every stop is 409 STALE_ATTEMPT with a reason. */
export const protocolVersion = 2;
const sdk = 'lrsweep-node/0.2.0';

export interface AgentOptions {
  /** The API, with or without /v1 (default LRSWEEP_API_URL). */
  url?: string;
  /** An agent (or admin) token (default LRSWEEP_TOKEN). */
  token?: string;
  pool?: string;
  name?: string;
  framework?: string;
  device?: string;
  /** At most 32, 4 096 characters in all (keys and values): shown in GET /v1/agents. */
  labels?: Record<string, string>;
}

/** An agent of a pool: `for await (const trial of agent.trials()) …` claims one trial at a time. */
export class Agent {
  readonly pool: string;
  readonly name: string;
  id: string | null = null;
  stopping = false;
  private readonly api: Api;
  private readonly hangUp = new AbortController();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(private readonly o: AgentOptions = {}) {
    this.api = new Api(
      o.url ?? process.env.LRSWEEP_API_URL ?? 'http://127.0.0.1:3000',
      o.token ?? process.env.LRSWEEP_TOKEN ?? '',
    );
    this.pool = o.pool ?? 'default';
    this.name = o.name ?? `node-${process.pid}`;
  }

  /** Ends `trials()` after the current trial (which is released), as SIGTERM does. */
  stop() {
    this.stopping = true;
    this.hangUp.abort();
  }

  private async register() {
    const r = await this.api.call<{ agentId: string; heartbeatMs: number }>('POST', '/v1/agents', {
      name: this.name,
      pool: this.pool,
      framework: this.o.framework ?? `node ${process.version}`,
      ...(this.o.device ? { device: this.o.device } : {}),
      ...(this.o.labels ? { labels: this.o.labels } : {}),
      sdk,
      protocolVersion,
    });
    this.id = r.agentId;
    this.heartbeat = setInterval(
      () => void this.api.call('POST', `/v1/agents/${this.id}/heartbeat`, {}, { retryForMs: 5000 }).catch(() => {}),
      r.heartbeatMs,
    );
    this.heartbeat.unref();
  }

  /**
   * Claimed trials, one at a time, until `maxTrials` were handed out, no trial came for
   * `idleTimeoutMs`, or SIGTERM (once the current trial is released). Never exits the process.
   */
  async *trials(o: { maxTrials?: number; idleTimeoutMs?: number } = {}): AsyncGenerator<Trial> {
    const onTerm = () => this.stop();
    process.once('SIGTERM', onTerm);
    try {
      if (!this.id) await this.register();
      let handed = 0;
      let idleSince = Date.now();
      while (!this.stopping && (o.maxTrials === undefined || handed < o.maxTrials)) {
        const waitMs =
          o.idleTimeoutMs === undefined
            ? 20_000
            : Math.max(0, Math.min(20_000, o.idleTimeoutMs - (Date.now() - idleSince)));
        let claimed: ClaimedTrial | null = null;
        try {
          claimed = (
            await this.api.call<{ trial: ClaimedTrial | null }>(
              'POST',
              `/v1/agents/${this.id}/claim`,
              { waitMs },
              { signal: this.hangUp.signal },
            )
          ).trial;
        } catch (err) {
          if (this.stopping) break;
          throw err;
        }
        if (!claimed) {
          if (o.idleTimeoutMs !== undefined && Date.now() - idleSince >= o.idleTimeoutMs) return;
          continue;
        }
        const trial = new Trial(this, this.api, claimed);
        if (this.stopping) {
          await trial.release();
          break;
        }
        handed++;
        try {
          yield trial;
        } finally {
          // A trial the trainer left open goes back to the queue (released, not failed).
          if (!trial.isEnded) await trial.release();
        }
        idleSince = Date.now();
      }
    } finally {
      process.off('SIGTERM', onTerm);
      if (this.heartbeat) clearInterval(this.heartbeat);
    }
  }
}
