/** A claimed trial as a hand-made trainer sees it. */
export interface HandTrial {
  id: string;
  attempt: number;
  leaseToken: string;
  baseLr: number;
  seed: number;
  schedule: { kind: string };
  config: Record<string, unknown>;
  lr: { lr: number[] };
}

/**
 * A trainer by hand, over the agent protocol's HTTP routes: registers an agent of `pool`, claims
 * `trials` trials one after another and, for each (a one-update trial: training.totalSteps 1),
 * reports update 0 at the schedule's own rate, an evaluation after it with the val_loss that
 * `objective` gives, and completes it. For tests of what the server makes of the results
 * (rankings, transfer studies) without a framework in the loop. Throws on any refused call.
 */
export async function trainByHand(o: {
  url: string;
  token: string;
  pool: string;
  trials: number;
  objective: (t: HandTrial) => number;
}): Promise<void> {
  const call = async (path: string, body: object) => {
    const r = await fetch(`${o.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await r.json()) as Record<string, unknown>;
    if (!r.ok) throw new Error(`POST ${path}: ${r.status} ${JSON.stringify(answer)}`);
    return answer;
  };
  const agent = await call('/v1/agents', { name: `by-hand-${o.pool}`, pool: o.pool, protocolVersion: 2 });
  for (let n = 0; n < o.trials; n++) {
    const t = (await call(`/v1/agents/${agent.agentId}/claim`, { waitMs: 5000 })).trial as HandTrial | null;
    if (!t) throw new Error(`no trial to claim after ${n} of ${o.trials}`);
    const fence = { attempt: t.attempt, leaseToken: t.leaseToken };
    await call(`/v1/trials/${t.id}/updates`, { ...fence, updates: [{ step: 0, lr: t.lr.lr[0], loss: 1 }] });
    await call(`/v1/trials/${t.id}/evals`, { ...fence, step: 1, metrics: { val_loss: o.objective(t) } });
    await call(`/v1/trials/${t.id}/complete`, fence);
  }
}
