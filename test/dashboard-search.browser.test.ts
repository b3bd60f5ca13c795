// The dashboard's views of searches that are not a plain grid, in a real browser (Debian's
// Chromium, headless) against the real API and workers: the new-sweep form shows a horizon
// sweep's forked cooldowns and an ASHA search's rungs and budget as the API plans them, and an
// ASHA sweep's page marks its pruned trials in the progress bar and lists the pruned
// configurations apart from the ranking, as the results endpoint does; a range test's page plots
// loss against LR and hands its suggested grid to the form, and a horizon sweep's plots the
// objective against horizon.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapToken, requirement, type Stack, startStack, trainByHand } from '@lrsweep/testkit';

const root = resolve(import.meta.dirname, '..');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const base = {
  dataset: { name: 'mnist', trainSize: 460, validationSize: 60, testSize: 100 },
  model: { kind: 'mlp', hidden: [16] },
  optimizer: { kind: 'adam' },
  training: { epochs: 2, batchSize: 50, evalEvery: 4 },
};
// T = 16: rungs at 4 and 12; 6 configurations → 2 → 1.
const ashaSpec = {
  ...base,
  name: 'asha-view',
  grid: { baseLr: [0.001, 0.01, 0.1], schedule: [{ kind: 'constant' }, { kind: 'cosine' }], seeds: 2 },
  search: { kind: 'asha', minBudget: 4 },
};
const forkSpec = {
  ...base,
  name: 'fork-view',
  grid: { horizon: [20, 40], baseLr: [0.003], schedule: [{ kind: 'wsd', decaySteps: 8 }], seeds: 1 },
};

/** What a series plot shows, from its data-series attribute. */
type Shown = { label: string; points: number };
const horizonBase = {
  dataset: { name: 'mnist', trainSize: 660, validationSize: 60, testSize: 200 },
  model: { kind: 'mlp', hidden: [32] },
  optimizer: { kind: 'adam' },
  training: { epochs: 2, batchSize: 50, evalEvery: 6 },
};

const chromiumNeeded = requirement(
  'chromium',
  existsSync(chromiumPath),
  `install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
);

describe.skipIf(chromiumNeeded.skip)(`search views in ${chromiumPath}`, () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    chromiumNeeded.assert();
    const vite = join(
      dirname(createRequire(join(root, 'apps/dashboard/package.json')).resolve('vite/package.json')),
      'bin/vite.js',
    );
    execFileSync(process.execPath, [vite, 'build', '--logLevel', 'error'], { cwd: join(root, 'apps/dashboard') });
    stack = await startStack('search-views', { workers: 2 });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const open = async (path: string) => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.addInitScript((t) => localStorage.setItem('lrsweep.token', t), bootstrapToken);
    await page.goto(`${stack.api.url}/${path}`);
    return { page, problems };
  };

  it('the new-sweep form shows the fork plan and the ASHA plan the API computes', async () => {
    const { page, problems } = await open('#/new');
    const spec = page.getByLabel('sweep spec (JSON)');
    await spec.waitFor();
    await spec.fill(JSON.stringify(forkSpec));
    const forks = (await stack.client.post('/v1/sweeps/validate', forkSpec)).body.forks;
    expect(forks).toEqual({ trunks: 1, forks: 1, updates: 48, independentUpdates: 60 });
    await expect
      .poll(() => page.getByTestId('fork-plan').textContent(), { timeout: 10_000 })
      .toContain('48 updates instead of 60 (80%)');
    await spec.fill(JSON.stringify(ashaSpec));
    const asha = (await stack.client.post('/v1/sweeps/validate', ashaSpec)).body.asha;
    await expect
      .poll(() => page.getByTestId('asha-plan').textContent(), { timeout: 10_000 })
      .toContain(`rungs at ${asha.rungs.join(', ')} updates`);
    expect(await page.getByTestId('asha-plan').textContent()).toContain(
      `${asha.updates} updates instead of ${asha.gridUpdates}`,
    );
    expect(problems).toEqual([]);
  });

  it('an ASHA sweep marks its pruned trials and lists the pruned configurations apart from the ranking', async () => {
    const created = await stack.lrsweep.submitSweep(ashaSpec as never);
    await stack.client.waitForSweep(created.id, 120_000);
    const results = (await stack.client.get(`/v1/sweeps/${created.id}/results`)).body;
    expect(results.pruned).toHaveLength(5);
    const { page, problems } = await open(`#/sweeps/${created.id}`);
    const table = page.getByTestId('pruned-table');
    await table.waitFor();
    expect(await table.locator('tbody tr').count()).toBe(5);
    const shown = await table.locator('tbody tr').allTextContents();
    for (const p of results.pruned)
      expect(shown.some((row) => row.includes(String(p.config.baseLr)) && row.includes(String(p.budget)))).toBe(true);
    // The heatmap marks each pruned configuration's cell with its rung.
    await page.getByTestId('heatmap').waitFor();
    for (const p of results.pruned) {
      const cell = page.locator(`.heatmap td.pruned[data-config="${p.configId}"]`);
      expect(await cell.textContent()).toContain(`rung ${p.rung + 1}`);
      expect(await cell.getAttribute('title')).toContain(`after ${p.budget} updates`);
    }
    // The progress bar has a segment for the 10 pruned trials beside the 2 completed.
    expect(await page.locator('.progress .pruned').count()).toBe(1);
    expect(await page.locator('.progress').getAttribute('title')).toContain('10 pruned');
    expect(problems).toEqual([]);
  });

  it('plots a range test’s loss against LR and hands its suggested grid to the new-sweep form in one click', async () => {
    const created = await stack.lrsweep.submitSweep({
      name: 'ramp-in-browser',
      dataset: { name: 'mnist', trainSize: 660, validationSize: 60, testSize: 100 },
      model: { kind: 'mlp', hidden: [16] },
      optimizer: { kind: 'adam' },
      search: { kind: 'range_test', minLr: 1e-5, maxLr: 3, steps: 120 },
      training: { batchSize: 30, evalEvery: 60 },
      grid: { seeds: 1 },
    } as never);
    await stack.lrsweep.follow(created.id, () => {}, 250);
    const answer = await stack.lrsweep.rangeTest(created.id);
    const { page, problems } = await open(`#/sweeps/${created.id}`);
    const plot = page.getByTestId('range-test-plot');
    await expect.poll(async () => (await plot.getAttribute('data-series')) !== null, { timeout: 20_000 }).toBe(true);
    const shown = JSON.parse((await plot.getAttribute('data-series'))!) as Shown[];
    expect(shown.map((x) => [x.label, x.points])).toEqual([
      ['loss (seed mean)', answer.points.length],
      ['smoothed', answer.points.length],
    ]);
    expect(await page.getByTestId('range-test-suggested').textContent()).toContain(
      `[${answer.suggested.baseLr.join(', ')}]`,
    );
    await page.getByRole('button', { name: 'New sweep over these LRs' }).click();
    await page.waitForURL(/#\/new$/);
    const draft = JSON.parse(await page.getByLabel('sweep spec (JSON)').inputValue()) as {
      search?: unknown;
      grid: { baseLr: number[] };
    };
    expect(draft.search).toBeUndefined();
    expect(draft.grid.baseLr).toEqual(answer.suggested.baseLr);
    // It is a valid grid as it stands: its trial count shows (suggested LRs × 2 schedules × 1 seed).
    await expect
      .poll(() => page.getByTestId('trial-count').textContent(), { timeout: 10_000 })
      .toContain(`${answer.suggested.baseLr.length * 2} trials`);
    expect(problems).toEqual([]);
  }, 120_000);
  it('plots the objective against horizon for a sweep with a horizon axis, one line per grid schedule', async () => {
    const created = await stack.lrsweep.submitSweep({
      ...horizonBase,
      name: 'horizons-in-browser',
      grid: {
        horizon: [12, 24],
        baseLr: [0.003],
        schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: { fraction: 0.25 } } }],
        seeds: 1,
      },
    } as never);
    await stack.lrsweep.follow(created.id, () => {}, 250);
    const { page, problems } = await open(`#/sweeps/${created.id}`);
    const plot = page.getByTestId('horizon-plot');
    await expect.poll(async () => (await plot.getAttribute('data-series')) !== null, { timeout: 20_000 }).toBe(true);
    const shown = JSON.parse((await plot.getAttribute('data-series'))!) as Shown[];
    expect(shown.map((x) => x.points)).toEqual([2, 2]);
    expect(shown.map((x) => x.label).sort()).toEqual(['constant', 'cosine + warmup 3']);
    expect(problems).toEqual([]);
  }, 120_000);

  it('plots a transfer study: η* against width on log-log axes with bands, the law, and the target marked', async () => {
    const http = async (method: string, path: string, body?: object) => {
      const r = await fetch(`${stack.api.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${bootstrapToken}`, 'content-type': 'application/json' },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return (await r.json()) as Record<string, unknown>;
    };
    const created = await http('POST', '/v1/sweeps', {
      name: 'transfer-in-browser',
      runner: { kind: 'external', pool: 'browser-xfer' },
      training: { totalSteps: 1, evalEvery: 1 },
      grid: {
        baseLr: [0.001, 0.003, 0.01, 0.03, 0.1],
        schedule: [{ kind: 'constant' }, { kind: 'linear' }],
        seeds: 2,
        config: { width: [64, 128, 256] },
      },
      transfer: { width: { from: 'grid.config.width' }, baseWidth: 64, target: { width: 1024 } },
    });
    // η*(width) = 0.01 · 64 / width; linear 0.1 better than constant at every width.
    await trainByHand({
      url: stack.api.url,
      token: bootstrapToken,
      pool: 'browser-xfer',
      trials: 60,
      objective: (t) => {
        const width = t.config.width as number;
        return (
          (Math.log10(t.baseLr) - Math.log10((0.01 * 64) / width)) ** 2 +
          (t.schedule.kind === 'linear' ? 0 : 0.1) +
          0.004 * Math.sin(t.baseLr * 1000 + width + 7 * t.seed)
        );
      },
    });
    const answer = (await stack.client.get(`/v1/sweeps/${created.id}/transfer`)).body as {
      laws: { schedule: string; b: number; target: { lr: number; interval: [number, number] } }[];
      winner: { statement: string };
    };
    expect(answer.laws).toHaveLength(2);
    const { page, problems } = await open(`#/sweeps/${created.id}`);
    const plot = page.getByTestId('transfer-plot');
    await expect.poll(async () => (await plot.getAttribute('data-series')) !== null, { timeout: 20_000 }).toBe(true);
    const shown = JSON.parse((await plot.getAttribute('data-series'))!) as (Shown & {
      band: [number, number] | null;
    })[];
    const law = (name: string) => answer.laws.find((l) => l.schedule === name)!;
    expect(shown.map((x) => [x.label, x.points])).toEqual(
      ['constant', 'linear'].flatMap((name) => [
        [`η* · ${name}`, 3],
        [`law · ${name} (b = ${law(name).b.toFixed(2)})`, 2],
        [`target · ${name}`, 1],
      ]),
    );
    // η* carries its bootstrap band; the target its prediction interval; the law line none.
    for (const x of shown) expect(x.band !== null, x.label).toBe(!x.label.startsWith('law'));
    const target = shown.find((x) => x.label === 'target · linear')!;
    expect(target.band![0]).toBeCloseTo(law('linear').target.interval[0], 12);
    expect(target.band![1]).toBeCloseTo(law('linear').target.interval[1], 12);
    // Log axes: the x ticks run out to the target width.
    const xticks = JSON.parse((await plot.getAttribute('data-xticks'))!) as string[];
    expect(xticks.length).toBeGreaterThan(1);
    expect(await page.getByTestId('transfer-laws').locator('tbody tr').count()).toBe(2);
    expect(await page.getByTestId('transfer-winner').textContent()).toBe(answer.winner.statement);
    expect(answer.winner.statement).toContain('linear beats constant at every width');
    expect(problems).toEqual([]);
  }, 120_000);
});
