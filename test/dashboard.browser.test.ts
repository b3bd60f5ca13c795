// The dashboard in a real browser (Debian's Chromium driven by playwright-core, headless) against
// the real API and real workers: enter a token, submit a sweep through the form, watch it complete
// without a reload, and check the ranking and that every plot holds the sweep's data.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duration } from '../apps/dashboard/src/format';
import { bootstrapToken, pairedTTest, query, requirement, type Stack, startStack, startWorker } from '@lrsweep/testkit';

const root = resolve(import.meta.dirname, '..');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const output = join(root, 'test/output/dashboard');

const spec = {
  name: 'browser-sweep',
  // 600 samples train, 60 more validate.
  dataset: { name: 'mnist', trainSize: 660, validationSize: 60, testSize: 200 },
  model: { kind: 'mlp', hidden: [32] },
  optimizer: { kind: 'adam' },
  training: { epochs: 2, batchSize: 50, evalEvery: 6 },
  grid: { baseLr: [0.001, 0.01], schedule: [{ kind: 'constant' }, { kind: 'cosine', warmup: { steps: 4 } }], seeds: 2 },
};
const T = 24;

/** A sweep whose ranking moves as its trials finish one at a time: Adam at LR 30 diverges, 1e-4 is a tick. */
const answerSpec = {
  name: 'answer-at-a-glance',
  runner: { kind: 'builtin', pool: 'answer' },
  dataset: { name: 'mnist', trainSize: 850, validationSize: 50, testSize: 100 },
  model: { kind: 'mlp', hidden: [16] },
  optimizer: { kind: 'adam' },
  training: { epochs: 1, batchSize: 50, evalEvery: 4 },
  grid: {
    baseLr: [1e-4, 0.003, 30],
    schedule: [{ kind: 'constant' }, { kind: 'cosine' }, { kind: 'linear' }],
    seeds: 2,
  },
};
type Shown = { label: string; color: string; points: number; band: [number, number] | null };
const hexToRgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
/** Holm's step-down adjustment, written out here. */
const holm = (ps: number[]) => {
  const order = ps.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const out = new Array<number>(ps.length);
  let running = 0;
  order.forEach(({ p, i }, j) => {
    running = Math.max(running, Math.min(1, (ps.length - j) * p));
    out[i] = running;
  });
  return out;
};

const chromiumNeeded = requirement(
  'chromium',
  existsSync(chromiumPath),
  `install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`,
);

describe.skipIf(chromiumNeeded.skip)(`dashboard in ${chromiumPath}`, () => {
  let stack: Stack;
  let browser: Browser;
  let apiUrl: string;

  beforeAll(async () => {
    chromiumNeeded.assert();
    // The API serves the built dashboard, as in production.
    const vite = join(
      dirname(createRequire(join(root, 'apps/dashboard/package.json')).resolve('vite/package.json')),
      'bin/vite.js',
    );
    execFileSync(process.execPath, [vite, 'build', '--logLevel', 'error'], { cwd: join(root, 'apps/dashboard') });
    stack = await startStack('browser', { workers: 2 });
    apiUrl = stack.api.url;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
      ],
    });
    mkdirSync(output, { recursive: true });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('submits a sweep through the UI, follows it live to completion, and plots its data', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(String(e)));
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));

    await page.goto(`${apiUrl}/`);
    await page.getByLabel('API token').fill(bootstrapToken);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.getByText('No sweeps yet').waitFor();

    await page.getByRole('link', { name: 'New sweep' }).click();
    await page.getByLabel('sweep spec (JSON)').fill(JSON.stringify(spec, null, 2));
    await expect.poll(() => page.getByTestId('trial-count').textContent(), { timeout: 10_000 }).toContain('8 trials');
    await page.getByTestId('preview-plot').waitFor();
    // A bad value shows its problem beside the editor, with its path.
    await page
      .getByLabel('sweep spec (JSON)')
      .fill(JSON.stringify({ ...spec, training: { ...spec.training, epochs: 0 } }));
    await expect
      .poll(() => page.getByTestId('spec-check').textContent(), { timeout: 10_000 })
      .toContain('training.epochs');
    await page.getByLabel('sweep spec (JSON)').fill(JSON.stringify(spec, null, 2));
    await expect.poll(() => page.getByTestId('trial-count').textContent(), { timeout: 10_000 }).toContain('8 trials');
    await page.getByRole('button', { name: 'Submit sweep' }).click();
    await page.waitForURL(/#\/sweeps\/[0-9a-f-]{36}$/);
    const sweepId = page.url().split('/').pop()!;
    // A mark on this document: a reload (or any navigation that loads a new document) loses it.
    await page.evaluate(() => ((window as unknown as { __lrsweepMark: number }).__lrsweepMark = 42));
    const loads: string[] = [];
    page.on('load', () => loads.push(page.url()));

    // Progress arrives by polling: no reload.
    await expect
      .poll(() => page.getByTestId('sweep-status').textContent(), { timeout: 150_000, interval: 500 })
      .toBe('completed');
    expect(await page.evaluate(() => (window as unknown as { __lrsweepMark?: number }).__lrsweepMark)).toBe(42);
    expect(loads).toEqual([]);
    await page.getByTestId('verdict').waitFor();

    const results = (await stack.client.get(`/v1/sweeps/${sweepId}/results`)).body;
    await expect.poll(() => page.locator('[data-testid="ranking"] tbody tr').count()).toBe(4);
    const shown = await page
      .locator('[data-testid="ranking"] tbody tr')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.config));
    expect(shown).toEqual(results.ranking.map((r: { configId: string }) => r.configId));

    const seriesOf = async (testId: string) => {
      await expect
        .poll(async () => (await page.getByTestId(testId).getAttribute('data-series')) !== null, { timeout: 20_000 })
        .toBe(true);
      return JSON.parse((await page.getByTestId(testId).getAttribute('data-series'))!) as {
        label: string;
        points: number;
      }[];
    };
    // Sensitivity: one line per schedule, one point per base LR.
    const sens = await seriesOf('sensitivity-plot');
    expect(sens).toHaveLength(2);
    for (const s of sens) expect(s.points).toBe(2);
    // Learning curves: one line per configuration, one point per evaluation (val_loss).
    // The curves follow the ranking: fetched again once the last configurations have results.
    await expect.poll(async () => (await seriesOf('curves-plot')).length, { timeout: 20_000 }).toBe(4);
    const curves = await seriesOf('curves-plot');
    for (const c of curves) expect(c.points).toBe(T / 6);
    // Applied LR: every update.
    const lr = await seriesOf('lr-plot');
    expect(lr).toHaveLength(4);
    for (const c of lr) expect(c.points).toBe(T);
    // The canvases were drawn on.
    const drawn = await page.locator('[data-testid="curves-plot"] canvas').evaluate((c) => {
      const ctx = (c as HTMLCanvasElement).getContext('2d')!;
      const { data } = ctx.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height);
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) n++;
      return n;
    });
    expect(drawn).toBeGreaterThan(500);
    await expect.poll(() => page.locator('[data-testid="trials"] tbody tr').count()).toBe(8);
    // Each finished trial shows how long its training loop ran, as the API reports it.
    const { trials } = await stack.lrsweep.listTrials(sweepId, { limit: 100 });
    const shownTimes = await page.locator('[data-testid="train-time"]').allTextContents();
    expect(shownTimes.sort()).toEqual(trials.map((t) => duration(t.trainMs!)).sort());

    // Both schedules' best LR (0.01) sits at the grid's top edge: the page offers one more step (0.1).
    await page.getByTestId('extend-grid').getByRole('button', { name: 'Extend the grid to 0.1' }).waitFor();
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Extend the grid to 0.1' }).click();
    await expect
      .poll(() => page.getByTestId('notice').textContent())
      .toContain('Added 4 trials (base LR 0.1); the sweep now has 12');
    // Followed live to the end again, the new LR in the ranking.
    await expect
      .poll(() => page.getByTestId('sweep-status').textContent(), { timeout: 120_000, interval: 500 })
      .toBe('completed');
    await expect.poll(() => page.locator('[data-testid="ranking"] tbody tr').count(), { timeout: 20_000 }).toBe(6);
    expect((await stack.lrsweep.getSweep(sweepId)).trialCount).toBe(12);
    await page.screenshot({ path: join(output, 'sweep-page.png'), fullPage: true });
    await page.goto(`${apiUrl}/#/`);
    await page.locator('[data-testid="sweeps"]').getByText('browser-sweep').waitFor();
    await page.screenshot({ path: join(output, 'sweeps-list.png') });

    expect(problems).toEqual([]);
    expect(urls.filter((u) => u.includes(bootstrapToken))).toEqual([]);
  });

  const openWithToken = async (path: string, colorScheme: 'light' | 'dark' = 'light') => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.addInitScript((t) => localStorage.setItem('lrsweep.token', t), bootstrapToken);
    await page.goto(`${apiUrl}/${path}`);
    return { page, problems };
  };

  it('answers at a glance: verdict and heatmap as the raw rows say, readable charts that follow the leaders, a trial page', async () => {
    const created = await stack.lrsweep.submitSweep(answerSpec as never);
    const { page, problems } = await openWithToken(`#/sweeps/${created.id}`);
    await page.getByTestId('sweep-status').waitFor();
    // One slot on a pool of its own, paused part-way: while the sweep runs the curves show its
    // leaders so far (at most 3 configurations have results then), and once it ends the final top 5.
    const plotted = async () => {
      const attr = await page
        .getByTestId('curves-plot')
        .getAttribute('data-series', { timeout: 1000 })
        .catch(() => null);
      return attr ? (JSON.parse(attr) as Shown[]).map((x) => x.label) : [];
    };
    const topNow = async () => {
      const r = await stack.lrsweep.results(created.id);
      const ids = r.ranking
        .filter((x) => x.mean !== null)
        .slice(0, 5)
        .map((x) => x.configId);
      return ids.length ? (await stack.lrsweep.curves(created.id, { configs: ids })).curves.map((c) => c.label) : [];
    };
    const completed = async () =>
      (
        await query<{ n: number }>(
          stack.db.url,
          "SELECT count(*)::int AS n FROM trials WHERE sweep_id = $1 AND status = 'completed'",
          [created.id],
        )
      )[0]!.n;
    let worker = await startWorker({ ...stack.env, WORKER_ID: 'answer-1', WORKER_POOLS: 'answer', WORKER_SLOTS: '1' });
    try {
      await expect.poll(completed, { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(2);
      await worker.stop('SIGTERM');
      const early = await topNow();
      expect(early.length).toBeGreaterThan(0);
      expect(early.length).toBeLessThan(5);
      await expect.poll(plotted, { timeout: 15_000 }).toEqual(early);
      expect(await page.getByTestId('sweep-status').textContent()).not.toBe('completed');
      worker = await startWorker({ ...stack.env, WORKER_ID: 'answer-1', WORKER_POOLS: 'answer', WORKER_SLOTS: '1' });
      await expect
        .poll(() => page.getByTestId('sweep-status').textContent(), { timeout: 150_000, interval: 500 })
        .toBe('completed');
    } finally {
      await worker.stop();
    }
    const [results, analysis] = await Promise.all([
      stack.lrsweep.results(created.id),
      stack.lrsweep.schedules(created.id),
    ]);
    const topLabels = await topNow();
    expect(topLabels).toHaveLength(5);
    // The page moved on to the final leaders by itself: no reload, no pick.
    await expect.poll(plotted, { timeout: 15_000 }).toEqual(topLabels);

    // The verdict rows, recomputed from the raw evaluation rows: each schedule's best config, its
    // mean of final val_loss, and Holm's adjustment of the paired p against the winner.
    const finals = await query<{ config_id: string; seed: number; v: number }>(
      stack.db.url,
      `SELECT t.config_id, (t.config->>'seed')::int AS seed, (SELECT e.val_loss FROM evaluations e WHERE e.trial_id = t.id ORDER BY e.step DESC LIMIT 1) AS v
         FROM trials t WHERE t.sweep_id = $1 AND t.status = 'completed' ORDER BY seed`,
      [created.id],
    );
    const seedsOf = (configId: string) => finals.filter((f) => f.config_id === configId).map((f) => f.v);
    const rows = await page.locator('[data-testid="verdict-rows"] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        config: (tr as HTMLElement).dataset.config!,
        mean: Number(tr.querySelector('[data-mean]')!.getAttribute('data-mean')),
        pHolm: tr.querySelector('[data-pholm]')!.getAttribute('data-pholm'),
        text: tr.textContent,
      })),
    );
    expect(rows.map((r) => r.config)).toEqual(analysis.rows.map((r) => r.configId));
    const winner = seedsOf(rows[0]!.config);
    const ps = rows.slice(1).map((r) => pairedTTest(seedsOf(r.config), winner).p);
    const adjusted = holm(ps);
    rows.forEach((r, i) => {
      const v = seedsOf(r.config);
      expect(r.mean).toBeCloseTo(v.reduce((a, b) => a + b, 0) / v.length, 9);
      if (i > 0) expect(Number(r.pHolm)).toBeCloseTo(adjusted[i - 1]!, 6);
    });
    expect(rows[0]!.text).toContain('winner');
    // The test split beside it, never selecting: the same seeds' test_loss, as the ranking reports it.
    const testMeans = await page
      .locator('[data-testid="verdict-rows"] tbody tr [data-test-mean]')
      .evaluateAll((tds) => tds.map((td) => Number(td.getAttribute('data-test-mean'))));
    expect(testMeans).toEqual(
      analysis.rows.map((r) =>
        expect.closeTo(results.ranking.find((x) => x.configId === r.configId)!.test.test_loss!.mean!, 12),
      ),
    );
    expect(await page.getByTestId('selected-on').textContent()).toContain('Ranked on the validation split');
    // The numerics key its trials trained under (this stack's workers run wasm).
    expect(await page.getByTestId('numerics').textContent()).toMatch(/^trains under wasm cpu · tfjs \d/);
    // Every best LR here is 0.003, between the grid's edges; two seeds are too few, and it says so.
    await expect.poll(() => page.getByTestId('verdict-warnings').textContent()).toContain('too few');

    // The heatmap's cells are the ranking's means; the all-diverged LR is marked; hovering shows the CI.
    const cells = await page.locator('[data-testid="heatmap"] td[data-config]').evaluateAll((tds) =>
      tds.map((td) => ({
        config: (td as HTMLElement).dataset.config!,
        mean: (td as HTMLElement).dataset.mean!,
        text: td.textContent!,
      })),
    );
    expect(cells).toHaveLength(results.ranking.length);
    for (const c of cells) {
      const r = results.ranking.find((x) => x.configId === c.config)!;
      if (r.mean === null) expect(c.text).toContain('diverged');
      else expect(Number(c.mean)).toBeCloseTo(r.mean, 12);
    }
    const best = results.ranking[0]!;
    await page.locator(`[data-testid="heatmap"] td[data-config="${best.configId}"]`).hover();
    await expect
      .poll(() => page.getByTestId('heatmap-readout').textContent())
      .toContain(`[${best.ci95![0].toFixed(4)}, ${best.ci95![1].toFixed(4)}] 95% CI`);

    // Ticks: 1e-4 reads 1e-4; diverged LRs are markers at the worst edge, one per schedule.
    const sensitivity = page.getByTestId('sensitivity-plot');
    expect(JSON.parse((await sensitivity.getAttribute('data-xticks'))!)).toContain('1e-4');
    const markers = JSON.parse((await sensitivity.getAttribute('data-markers'))!) as {
      label: string;
      x: number;
      y: number;
    }[];
    expect(markers.map((m) => m.x)).toEqual([30, 30, 30]);
    const sens = JSON.parse((await sensitivity.getAttribute('data-series'))!) as Shown[];
    const worstEdge = Math.max(
      ...sens.flatMap((x) => (x.band ? [x.band[1]] : [])),
      ...analysis.schedules.flatMap((x) => x.sensitivity.map((p) => p.mean ?? -Infinity)),
    );
    for (const m of markers) expect(m.y).toBeCloseTo(worstEdge, 9);

    // One colour per schedule in every chart and table.
    const curveSeries = JSON.parse((await page.getByTestId('curves-plot').getAttribute('data-series'))!) as Shown[];
    const lrSeries = JSON.parse((await page.getByTestId('lr-plot').getAttribute('data-series'))!) as Shown[];
    const swatches = await page.locator('[data-testid="verdict-rows"] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        label: tr.querySelectorAll('td')[1]!.textContent!,
        color: getComputedStyle(tr.querySelector('.swatch')!).backgroundColor,
      })),
    );
    for (const s of sens) {
      const mine = [...curveSeries, ...lrSeries].filter((c) => c.label.startsWith(`${s.label} @ `));
      for (const c of mine) expect(c.color).toBe(s.color);
      const sw = swatches.find((x) => x.label === s.label);
      if (sw) expect(sw.color).toBe(hexToRgb(s.color));
    }
    expect(new Set(sens.map((s) => s.color)).size).toBe(sens.length);

    // Bands never leave the metric's range, whichever band is chosen; with 2 seeds the CI note shows.
    await page.getByLabel('curve metric').selectOption('val_acc');
    for (const kind of ['ci', 'sem', 'range']) {
      await page.getByTestId('band').first().selectOption(kind);
      await expect
        .poll(async () => JSON.parse((await page.getByTestId('curves-plot').getAttribute('data-series'))!)[0].label, {
          timeout: 10_000,
        })
        .toBeTruthy();
      await expect
        .poll(
          async () => {
            const shown = JSON.parse((await page.getByTestId('curves-plot').getAttribute('data-series'))!) as Shown[];
            return shown.every((x) => x.band !== null && x.band[0] >= 0 && x.band[1] <= 1);
          },
          { timeout: 10_000 },
        )
        .toBe(true);
      if (kind === 'ci') await page.getByTestId('band-note').waitFor();
    }

    // Hovering a chart shows the values under the cursor: the API's curve at that step.
    const over = page.locator('[data-testid="curves-plot"] .u-over');
    await over.scrollIntoViewIfNeeded();
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
    const readout = await expect
      .poll(async () => (await page.getByTestId('curves-plot-readout').getAttribute('data-readout')) ?? null, {
        timeout: 5000,
      })
      .not.toBeNull()
      .then(
        async () =>
          JSON.parse((await page.getByTestId('curves-plot-readout').getAttribute('data-readout'))!) as {
            x: number;
            values: { label: string; y: number }[];
          },
      );
    const apiCurves = await stack.lrsweep.curves(created.id, {
      metric: 'val_acc',
      configs: results.ranking
        .filter((r) => r.mean !== null)
        .slice(0, 5)
        .map((r) => r.configId),
      points: 400,
    });
    expect(readout.values.length).toBeGreaterThan(0);
    for (const v of readout.values) {
      const c = apiCurves.curves.find((x) => x.label === v.label)!;
      expect(v.y).toBe(c.mean[c.steps.indexOf(readout.x)]);
    }
    expect(await page.getByTestId('curves-plot-readout').textContent()).toContain(readout.values[0]!.label);
    // A legend entry toggles its series; the readout then leaves it out.
    const first = readout.values[0]!.label;
    await page.getByTestId('curves-plot-legend').getByRole('button', { name: first }).click();
    await expect
      .poll(() =>
        page.getByTestId('curves-plot-legend').getByRole('button', { name: first }).getAttribute('data-hidden'),
      )
      .toBe('true');
    await over.scrollIntoViewIfNeeded();
    const box2 = (await over.boundingBox())!;
    await page.mouse.move(box2.x + box2.width * 0.6 + 3, box2.y + box2.height / 2);
    await expect
      .poll(async () =>
        (
          JSON.parse(
            (await page.getByTestId('curves-plot-readout').getAttribute('data-readout')) ?? '{"values":[]}',
          ) as { values: { label: string }[] }
        ).values.map((v) => v.label),
      )
      .not.toContain(first);
    expect(
      JSON.parse((await page.getByTestId('curves-plot-readout').getAttribute('data-readout'))!).values.length,
    ).toBeGreaterThan(0);

    // The applied LR on a log axis: 1e-4 and 30 both readable.
    await page.getByLabel('log LR').check();
    await expect
      .poll(async () =>
        JSON.parse((await page.getByTestId('lr-plot').getAttribute('data-yticks')) ?? '[]').some((t: string) =>
          /e-\d/.test(t),
        ),
      )
      .toBe(true);

    // The CSV button downloads every trial.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download trials CSV' }).click(),
    ]);
    const stream = await download.createReadStream();
    const csvText = await new Promise<string>((res) => {
      let text = '';
      stream.on('data', (d: Buffer) => (text += d.toString()));
      stream.on('end', () => res(text));
    });
    expect(csvText.trim().split('\n')).toHaveLength(1 + 18);
    // Filtering the trials table by text and status.
    await page.getByTestId('trials-filter').fill('linear');
    await expect.poll(() => page.locator('[data-testid="trials"] tbody tr').count()).toBe(6);
    await page.getByLabel('trial status').selectOption('diverged');
    await expect.poll(() => page.locator('[data-testid="trials"] tbody tr').count()).toBe(2);
    await page.getByTestId('ranking-filter').fill('cosine');
    await expect.poll(() => page.locator('[data-testid="ranking"] tbody tr').count()).toBe(3);
    await page.getByTestId('trials-filter').fill('');
    await page.getByLabel('trial status').selectOption('');
    await page.getByTestId('ranking-filter').fill('');
    await page.screenshot({ path: join(output, 'answer-page.png'), fullPage: true });

    // The trial page: its curves are /v1/trials/:id/metrics, its attempts and outcome beside them.
    const trial = (await stack.lrsweep.listTrials(created.id)).trials.find((t) => t.status === 'completed')!;
    await page.goto(`${apiUrl}/#/trials/${trial.id}`);
    const metrics = await stack.lrsweep.allTrialMetrics(trial.id);
    await expect
      .poll(async () => (await page.getByTestId('trial-lr').getAttribute('data-series')) !== null, { timeout: 10_000 })
      .toBe(true);
    const lrShown = JSON.parse((await page.getByTestId('trial-lr').getAttribute('data-series'))!) as Shown[];
    expect(lrShown[0]!.points).toBe(metrics.updates.length);
    const curveShown = JSON.parse((await page.getByTestId('trial-curve').getAttribute('data-series'))!) as Shown[];
    expect(curveShown[0]!.points).toBe(metrics.evals.filter((e) => e.valLoss !== null).length);
    expect(curveShown[1]!.points).toBe(metrics.updates.filter((u) => u.trainLoss !== null).length);
    await page.locator('[data-testid="trial-lr"] .u-over').scrollIntoViewIfNeeded();
    const lrOver = (await page.locator('[data-testid="trial-lr"] .u-over').boundingBox())!;
    await page.mouse.move(lrOver.x + lrOver.width / 2, lrOver.y + lrOver.height / 2);
    const at = JSON.parse((await page.getByTestId('trial-lr-readout').getAttribute('data-readout'))!) as {
      x: number;
      values: { y: number }[];
    };
    expect(at.values[0]!.y).toBe(metrics.updates.find((u) => u.step === at.x)!.lr);
    await expect.poll(() => page.locator('[data-testid="attempts"] tbody tr').count()).toBe(1);
    expect(await page.locator('[data-testid="attempts"] tbody tr').textContent()).toContain('answer-1');
    const outcome = await page.getByTestId('trial-outcome').textContent();
    expect(outcome).toContain(trial.final.val_loss!.toFixed(4));
    expect(outcome).toContain(trial.test.test_loss!.toFixed(4));
    await page.screenshot({ path: join(output, 'trial-page.png'), fullPage: true });
    expect(problems).toEqual([]);

    // Dark mode follows prefers-color-scheme.
    const dark = await openWithToken(`#/sweeps/${created.id}`, 'dark');
    await dark.page.getByTestId('verdict-rows').waitFor();
    await dark.page.getByTestId('curves-plot').waitFor();
    expect(await dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(11, 18, 32)');
    expect(await dark.page.evaluate(() => getComputedStyle(document.querySelector('.card')!).color)).toBe(
      'rgb(229, 231, 235)',
    );
    await dark.page.screenshot({ path: join(output, 'answer-dark.png'), fullPage: false });
    expect(dark.problems).toEqual([]);
  }, 240_000);

  it('shows failures at the top and in the list, and deletes a sweep only once confirmed', async () => {
    // No validation split: it selects on the test split, and the page flags it.
    const created = await stack.lrsweep.submitSweep({
      ...spec,
      name: 'doomed-in-browser',
      dataset: { name: 'cifar10', path: 'nowhere', trainSize: 64, validationSize: 0, testSize: 16 },
      grid: { ...spec.grid, baseLr: [0.01], schedule: [{ kind: 'constant' }], seeds: 1 },
    } as never);
    await stack.lrsweep.follow(created.id, () => {}, 250);
    const { page, problems } = await openWithToken(`#/sweeps/${created.id}`);
    await expect.poll(() => page.getByTestId('sweep-status').textContent()).toBe('failed');
    const failures = page.getByTestId('failures');
    await expect.poll(() => failures.textContent()).toContain('1 trial failed');
    expect(await failures.locator('li').getAttribute('data-code')).toBe('INFRASTRUCTURE');
    expect(await failures.textContent()).toContain('DATA_ROOT does not exist');
    expect(await page.getByTestId('selected-on').textContent()).toContain('selects on the test split');
    await page.goto(`${apiUrl}/#/`);
    const row = page.locator('[data-testid="sweeps"] tr', { hasText: 'doomed-in-browser' });
    await expect.poll(() => row.textContent()).toContain('failed');
    expect(await row.getByTestId('failed-count').textContent()).toBe('1 failed');
    await page.goto(`${apiUrl}/#/sweeps/${created.id}`);
    await page.getByTestId('sweep-status').waitFor();
    // Dismissed: nothing happens. Accepted: gone, back to the list.
    page.once('dialog', (d) => void d.dismiss());
    await page.getByRole('button', { name: 'Delete sweep' }).click();
    await new Promise((r) => setTimeout(r, 500));
    expect((await stack.lrsweep.getSweep(created.id)).id).toBe(created.id);
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete sweep' }).click();
    await page.waitForURL(/#\/$/);
    await expect(stack.lrsweep.getSweep(created.id)).rejects.toMatchObject({ status: 404 });
    expect(problems).toEqual([]);
  }, 120_000);
});
