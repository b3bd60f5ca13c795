// The lrsweep CLI as a user runs it, against a real API and worker.
import { execFile, spawn } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bootstrapToken, type Stack, startStack, trainByHand, tinySpec } from '@lrsweep/testkit';

const root = resolve(import.meta.dirname, '..');
const tsx = createRequire(join(root, 'apps/cli/package.json')).resolve('tsx');
const dir = mkdtempSync(join(tmpdir(), 'lrsweep-cli-'));

const spec = tinySpec({
  name: 'cli-sweep',
  dataset: { trainSize: 400, testSize: 100 },
  training: { evalEvery: 4 },
  grid: {
    baseLr: [0.001, 0.01],
    schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: [0, 2] } }],
    seeds: 2,
  },
});

describe('lrsweep CLI', () => {
  let stack: Stack;
  let apiUrl: string;

  const cli = async (...args: string[]) => {
    try {
      const r = await promisify(execFile)(
        process.execPath,
        ['--import', tsx, join(root, 'apps/cli/src/main.ts'), ...args],
        {
          env: { ...process.env, LRSWEEP_API_URL: apiUrl, LRSWEEP_TOKEN: bootstrapToken },
        },
      );
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  /** Runs the CLI with stdin fed `input` (then closed) and `env` over the usual one. */
  const cliWith = (o: { input?: string; env?: Record<string, string | undefined> }, ...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((res) => {
      const env: Record<string, string | undefined> = {
        ...process.env,
        LRSWEEP_API_URL: apiUrl,
        LRSWEEP_TOKEN: bootstrapToken,
        ...o.env,
      };
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
      const p = spawn(process.execPath, ['--import', tsx, join(root, 'apps/cli/src/main.ts'), ...args], {
        env: env as NodeJS.ProcessEnv,
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      p.stdin.end(o.input ?? '');
      p.on('exit', (code) => res({ code, stdout, stderr }));
    });

  beforeAll(async () => {
    stack = await startStack('cli');
    apiUrl = stack.api.url;
  });
  afterAll(async () => stack?.stop());

  it('--dry-run counts trials and steps exactly as the API does', async () => {
    const file = join(dir, 'spec.yaml');
    writeFileSync(file, stringify(spec));
    const r = await cli('submit', file, '--dry-run');
    expect(r.code).toBe(0);
    const m = /(\d+) trials = (\d+) configurations × (\d+) seeds; (\d+) updates each/.exec(r.stdout)!;
    const api = await stack.client.post('/v1/sweeps', spec);
    expect(api.status).toBe(201);
    expect({ trials: Number(m[1]), configs: Number(m[2]), steps: Number(m[4]) }).toEqual({
      trials: api.body.trialCount,
      configs: api.body.configCount,
      steps: api.body.totalSteps,
    });
    expect(r.stdout).toContain('cosine + warmup 2');
  });

  it('--dry-run shows the forked cooldowns of a wsd sweep over horizons, as the API plans them', async () => {
    const forked = {
      ...spec,
      name: 'forked',
      grid: { horizon: [40, 80], baseLr: [0.001], schedule: [{ kind: 'wsd', decaySteps: 10 }], seeds: 2 },
    };
    const file = join(dir, 'forked.json');
    writeFileSync(file, JSON.stringify(forked));
    const r = await cli('submit', file, '--dry-run');
    expect(r.code).toBe(0);
    const api = (await stack.client.post('/v1/sweeps/validate', forked)).body as { forks: { updates: number } };
    // Per seed: the trunk's 80 updates and the T=40 fork's 10-update cooldown, against 120.
    expect(api.forks).toEqual({ trunks: 2, forks: 2, updates: 180, independentUpdates: 240 });
    expect(r.stdout).toContain('forked cooldowns: 2 trunks carry 2 forks: 180 updates instead of 240 (75%)');
  });

  it('ASHA: --dry-run shows the rungs and budget as the API plans them; --follow lists the pruned apart from the ranking', async () => {
    // T = 8 (400 samples, batch 50): rungs at 2 and 6; 6 configurations × 2 seeds → 2 → 1.
    const asha = {
      ...spec,
      name: 'asha',
      training: { epochs: 1, batchSize: 50, evalEvery: 2 },
      grid: { baseLr: [0.001, 0.01, 0.03], schedule: [{ kind: 'constant' }, { kind: 'cosine' }], seeds: 2 },
      search: { kind: 'asha', minBudget: 2 },
    };
    const file = join(dir, 'asha.json');
    writeFileSync(file, JSON.stringify(asha));
    const dry = await cli('submit', file, '--dry-run');
    expect(dry.code).toBe(0);
    const api = (await stack.client.post('/v1/sweeps/validate', asha)).body as {
      asha: { rungs: number[]; updates: number; gridUpdates: number };
    };
    // 12 trials × 2 + 4 × 4 + 2 × 2 updates, and the estimates' 1-update cooldowns at both rungs (12 + 4).
    expect(api.asha).toEqual({ rungs: [2, 6, 8], reduction: 3, updates: 24 + 16 + 4 + 16, gridUpdates: 96 });
    expect(dry.stdout).toContain(
      'ASHA: rungs at 2, 6, 8 updates, keeping 1/3 at each: at most 60 updates instead of 96 (63%)',
    );
    const r = await cli('submit', file, '--follow');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/12\/12 done .* 10 pruned/);
    expect(r.stdout).toContain('Stopped early by ASHA (not ranked):');
    // The ranking has the one configuration that reached T; the table below it the other five.
    const pruned = r.stdout.split('Stopped early by ASHA (not ranked):')[1]!;
    expect(pruned.split('\n').filter((l) => /^\s+(constant|cosine)/.test(l))).toHaveLength(5);
  });

  it('submit --follow shows progress, ends with the ranking table and exit code 0', async () => {
    const file = join(dir, 'follow.json');
    writeFileSync(file, JSON.stringify({ ...spec, name: 'followed' }));
    const r = await cli('submit', file, '--follow');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\] 12\/12 done/);
    const lines = r.stdout.trim().split('\n');
    expect(lines.find((l) => l.startsWith('rank'))).toContain('mean val_loss');
    expect(lines.filter((l) => /^\s+\d+\s{2}/.test(l))).toHaveLength(6);
    const id = /sweep ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
    const status = await cli('status', id);
    expect(status.stdout).toContain('completed');
    // The numerics key every trial trained under (this stack's workers run wasm).
    expect(status.stdout).toMatch(/^trains under wasm cpu · tfjs \d/m);
    const json = JSON.parse((await cli('results', id, '--json')).stdout);
    expect(json.ranking).toHaveLength(6);
    const csv = (await cli('results', id, '--csv')).stdout.trim().split('\n');
    expect(csv).toHaveLength(7);
    // Nothing failed and the sweep has ended: retry and cancel change nothing, and say so.
    const retry = await cli('retry', id);
    expect(retry).toMatchObject({ code: 1 });
    expect(retry.stderr).toContain('nothing to retry');
    const cancel = await cli('cancel', id);
    expect(cancel).toMatchObject({ code: 1 });
    expect(cancel.stderr).toContain('nothing to cancel');
  });

  it('follow, list, status and results work with id prefixes and an API URL with /v1; the clock stops at the end', async () => {
    const file = join(dir, 'conveniences.json');
    writeFileSync(file, JSON.stringify({ ...spec, name: 'conveniences' }));
    const submitted = await cli('submit', file);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = /sweep ([0-9a-f-]{36})/.exec(submitted.stdout)![1]!;
    const prefix = id.slice(0, 8);
    const followed = await cliWith({ env: { LRSWEEP_API_URL: `${apiUrl}/v1/` } }, 'follow', prefix);
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toContain(`sweep ${id} completed`);
    // The verdict follows the ranking: one row per schedule at its best LR, as /schedules says.
    const analysis = await stack.lrsweep.schedules(id);
    const verdict = followed.stdout.slice(followed.stdout.indexOf('verdict on val_loss'));
    expect(verdict).toContain(`p adjusted by Holm over the ${analysis.rows.length - 1} comparison`);
    const rowLines = verdict.split('\n').slice(3, 3 + analysis.rows.length);
    analysis.rows.forEach((r, i) => {
      expect(rowLines[i]).toContain(r.label);
      expect(rowLines[i]).toContain(String(Number(r.baseLr.toPrecision(4))));
      if (i === 0) expect(rowLines[i]).toMatch(/^winner/);
      else expect(rowLines[i]!.startsWith('≈ winner')).toBe(r.indistinguishable);
    });
    expect(verdict).toContain(analysis.verdict);
    // list shows it; status by prefix; the elapsed time is the sweep's, not the clock's.
    const list = await cli('list');
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+conveniences\\s+completed\\s+12/12`));
    const first = await cli('status', prefix);
    await new Promise((r) => setTimeout(r, 2100));
    const second = await cli('status', prefix);
    expect(first.stdout).toContain('conveniences');
    expect(/(\d+)s$/m.exec(second.stdout)![1]).toBe(/(\d+)s$/m.exec(first.stdout)![1]);
    expect((await cli('results', prefix)).stdout).toContain('verdict on val_loss');
    // A prefix that is no id is a usage error; one that names no sweep is not found.
    expect((await cli('status', 'xyz')).code).toBe(2);
    expect((await cli('status', 'ffffffff-f')).code).toBe(5);
  }, 180_000);

  it('a failed sweep prints its failure reasons and --follow exits 3', async () => {
    const file = join(dir, 'failing.json');
    writeFileSync(
      file,
      JSON.stringify({
        ...spec,
        name: 'failing',
        dataset: { name: 'cifar10', path: 'nowhere', trainSize: 64, testSize: 16 },
        model: { kind: 'cnn', channels: [4] },
        grid: { baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
      }),
    );
    const r = await cli('submit', file, '--follow');
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/sweep [0-9a-f-]{36} failed/);
    expect(r.stdout).toMatch(/failures:\n {2}1× INFRASTRUCTURE: .*DATA_ROOT does not exist/);
  }, 90_000);

  it('extend grows a sweep by seeds and base LRs', async () => {
    const created = await stack.lrsweep.submitSweep({
      ...spec,
      name: 'growing',
      grid: { ...spec.grid, baseLr: [0.01], seeds: 1 },
    } as never);
    const r = await cli('extend', created.id.slice(0, 8), '--seeds', '2', '--lr', '0.01,0.001');
    expect(r.code, r.stderr).toBe(0);
    // 2 LRs × 3 schedules × 2 seeds = 12, of which 3 existed.
    expect(r.stdout).toContain(`added 9 trials; sweep ${created.id} now has 12`);
    expect((await cli('extend', created.id)).code).toBe(2);
  });

  it('delete asks first: no answer is a usage error, "no" keeps it, "yes" deletes it', async () => {
    const created = await stack.lrsweep.submitSweep({
      ...spec,
      name: 'doomed',
      grid: { ...spec.grid, baseLr: [0.01], seeds: 1 },
    } as never);
    const prefix = created.id.slice(0, 10);
    const unanswered = await cliWith({}, 'delete', prefix);
    expect(unanswered.code).toBe(2);
    expect(unanswered.stderr).toContain('--yes');
    const kept = await cliWith({ input: 'no\n' }, 'delete', prefix);
    expect(kept.stderr).toContain('not deleted');
    expect((await stack.lrsweep.getSweep(created.id)).name).toBe('doomed');
    const deleted = await cliWith({ input: 'yes\n' }, 'delete', prefix);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stderr).toContain("delete sweep 'doomed'");
    expect(deleted.stdout).toContain(`deleted sweep ${created.id}: 3 trials`);
    expect((await cli('status', created.id)).code).toBe(5);
  });

  it('without a token the 401 comes with a hint saying where tokens come from', async () => {
    const r = await cliWith({ env: { LRSWEEP_TOKEN: undefined } }, 'list');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('401');
    expect(r.stderr).toContain('hint: set LRSWEEP_TOKEN');
    expect(r.stderr).toContain('LRSWEEP_BOOTSTRAP_TOKEN');
  });

  it('submit sends an Idempotency-Key by default and retries a dropped request with the same key', async () => {
    // A stand-in API that drops the first submit without an answer, then answers delivery: pending.
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      if (seen.length === 1) return void req.socket.destroy();
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: '11111111-2222-4333-8444-555555555555',
          name: 'twinless',
          status: 'queued',
          trialCount: 8,
          configCount: 4,
          totalSteps: 8,
          selectedOn: 'validation',
          delivery: 'pending',
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const file = join(dir, 'twinless.json');
      writeFileSync(file, JSON.stringify({ ...spec, name: 'twinless' }));
      const r = await cliWith(
        { env: { LRSWEEP_API_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } },
        'submit',
        file,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(seen).toHaveLength(2);
      expect(seen[0]!['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
      expect(seen[1]!['idempotency-key']).toBe(seen[0]!['idempotency-key']);
      expect(r.stderr).toContain('retrying with the same Idempotency-Key');
      expect(r.stderr).toContain('delivery pending');
    } finally {
      server.close();
    }
    // Against the real API, the same key twice is one sweep.
    const file = join(dir, 'keyed.json');
    writeFileSync(file, JSON.stringify({ ...spec, name: 'keyed' }));
    const a = await cli('submit', file, '--idempotency-key', 'cli-key-1');
    const b = await cli('submit', file, '--idempotency-key', 'cli-key-1');
    expect(/sweep ([0-9a-f-]{36})/.exec(b.stdout)![1]).toBe(/sweep ([0-9a-f-]{36})/.exec(a.stdout)![1]);
  });

  it('an invalid spec prints every problem with its path and exits 2', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      stringify({
        ...spec,
        training: { epochs: 0, batchSize: 50 },
        grid: { ...spec.grid, baseLr: [-1], schedule: [{ kind: 'cosine', minFactor: 3 }] },
      }),
    );
    const r = await cli('submit', file);
    expect(r.code).toBe(2);
    for (const path of ['training.epochs', 'grid.baseLr[0]']) expect(r.stderr).toContain(`  ${path}: `);
    const r2 = await cli('submit', join(dir, 'bad2.json'));
    expect(r2.code).toBe(2);
  });

  it('reports a missing sweep with exit 5, bad usage with 2, and manages tokens', async () => {
    expect((await cli('status', '00000000-0000-4000-8000-000000000000')).code).toBe(5);
    expect((await cli('frobnicate')).code).toBe(2);
    const created = await cli('tokens', 'create', '--project', 'cli-test', '--name', 'bot');
    expect(created.code).toBe(0);
    const id = /created token ([0-9a-f-]{36})/.exec(created.stdout)![1]!;
    expect((await cli('tokens', 'list', '--project', 'cli-test')).stdout).toContain(id);
    expect((await cli('tokens', 'revoke', id)).stdout).toContain(`revoked ${id}`);
  });
});

describe('lrsweep agents and agent tokens', () => {
  let stack: Stack;
  const cli = async (apiUrl: string, ...args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', tsx, join(root, 'apps/cli/src/main.ts'), ...args], {
      env: { ...process.env, LRSWEEP_API_URL: apiUrl, LRSWEEP_TOKEN: bootstrapToken },
    });
  beforeAll(async () => {
    stack = await startStack('cli-agents', { workers: 0 });
  });
  afterAll(async () => stack?.stop());

  it('mints an agent token of a pool, and lists the agents with their state', async () => {
    const created = await cli(
      stack.api.url,
      'tokens',
      'create',
      '--project',
      'default',
      '--name',
      'gpu-fleet',
      '--role',
      'agent',
      '--pools',
      'torch-gpu,torch-cpu',
    );
    expect(created.stdout).toContain('agent of pools torch-gpu, torch-cpu');
    const token = created.stdout.trim().split('\n').at(-1)!;
    expect((await cli(stack.api.url, 'agents')).stdout).toContain('no agent has registered');
    const agent = await fetch(`${stack.api.url}/v1/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'gpu-node-7', pool: 'torch-gpu', framework: 'pytorch 2.13', protocolVersion: 2 }),
    });
    expect(agent.status).toBe(201);
    const listed = (await cli(stack.api.url, 'agents')).stdout;
    expect(listed).toMatch(/gpu-node-7\s+torch-gpu\s+alive/);
    expect(listed).toContain('pytorch 2.13');
  });

  it('transfer prints the law per schedule, η* at the target, and whether the winner holds', async () => {
    const http = async (method: string, path: string, body?: object) => {
      const r = await fetch(`${stack.api.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${bootstrapToken}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const created = await http('POST', '/v1/sweeps', {
      name: 'cli-transfer',
      runner: { kind: 'external', pool: 'cli-xfer' },
      training: { totalSteps: 1, evalEvery: 1 },
      grid: {
        baseLr: [0.001, 0.003, 0.01, 0.03, 0.1],
        schedule: [{ kind: 'constant' }, { kind: 'linear' }],
        config: { width: [64, 128, 256] },
      },
      transfer: { width: { from: 'grid.config.width' }, baseWidth: 64, target: { width: 1024 } },
    });
    expect(created.status).toBe(201);
    // η*(width) = 0.01 · (width / 64)^-1; linear is 0.1 better than constant everywhere.
    await trainByHand({
      url: stack.api.url,
      token: bootstrapToken,
      pool: 'cli-xfer',
      trials: 30,
      objective: (t) => {
        const width = t.config.width as number;
        return (
          (Math.log10(t.baseLr) - Math.log10(0.01 * (64 / width))) ** 2 +
          (t.schedule.kind === 'linear' ? 0 : 0.1) +
          0.003 * Math.sin(t.baseLr * 1000 + width)
        );
      },
    });
    const id = created.body.id as string;
    const r = await cli(stack.api.url, 'transfer', id.slice(0, 8));
    expect(r.stdout).toContain('η* = a · scale^b per schedule along width (grid.config.width); val_loss (final, min)');
    expect(r.stdout).toMatch(/^linear\s+width\s+-1\.\d\d \[/m);
    expect(r.stdout).toContain('η* at the target (width 1024)');
    expect(r.stdout).toContain('linear beats constant at every width (64, 128 and 256)');
    const at512 = await cli(stack.api.url, 'transfer', id, '--target-width', '512', '--json');
    expect(JSON.parse(at512.stdout).width.target).toBe(512);
    const bad = await cli(stack.api.url, 'transfer', id, '--target-width', 'wide').catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect('code' in bad && bad.code).toBe(2);
    expect(bad.stderr).toContain("--target-width must be a positive number, not 'wide'");
  });
});
