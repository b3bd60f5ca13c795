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
import { bootstrapToken, requirement, type Stack, startStack } from '@lrsweep/testkit';

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

const chromiumNeeded = requirement('chromium', existsSync(chromiumPath), `install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);

describe.skipIf(chromiumNeeded.skip)(`dashboard in ${chromiumPath}`, () => {
  let stack: Stack;
  let browser: Browser;
  let apiUrl: string;

  beforeAll(async () => {
    chromiumNeeded.assert();
    // The API serves the built dashboard, as in production.
    const vite = join(dirname(createRequire(join(root, 'apps/dashboard/package.json')).resolve('vite/package.json')), 'bin/vite.js');
    execFileSync(process.execPath, [vite, 'build', '--logLevel', 'error'], { cwd: join(root, 'apps/dashboard') });
    stack = await startStack('browser', { workers: 2 });
    apiUrl = stack.api.url;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
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
    await page.getByLabel('sweep spec (JSON)').fill(JSON.stringify({ ...spec, training: { ...spec.training, epochs: 0 } }));
    await expect.poll(() => page.getByTestId('spec-check').textContent(), { timeout: 10_000 }).toContain('training.epochs');
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
    await expect.poll(() => page.getByTestId('sweep-status').textContent(), { timeout: 150_000, interval: 500 }).toBe('completed');
    expect(await page.evaluate(() => (window as unknown as { __lrsweepMark?: number }).__lrsweepMark)).toBe(42);
    expect(loads).toEqual([]);
    await page.getByTestId('verdict').waitFor();

    const results = (await stack.client.get(`/v1/sweeps/${sweepId}/results`)).body;
    await expect.poll(() => page.locator('[data-testid="ranking"] tbody tr').count()).toBe(4);
    const shown = await page.locator('[data-testid="ranking"] tbody tr').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.config));
    expect(shown).toEqual(results.ranking.map((r: { configId: string }) => r.configId));

    const seriesOf = async (testId: string) => {
      await expect.poll(async () => (await page.getByTestId(testId).getAttribute('data-series')) !== null, { timeout: 20_000 }).toBe(true);
      return JSON.parse((await page.getByTestId(testId).getAttribute('data-series'))!) as { label: string; points: number }[];
    };
    // Sensitivity: one line per schedule, one point per base LR.
    const sens = await seriesOf('sensitivity-plot');
    expect(sens).toHaveLength(2);
    for (const s of sens) expect(s.points).toBe(2);
    // Learning curves: one line per configuration, one point per evaluation (val_loss).
    const curves = await seriesOf('curves-plot');
    expect(curves).toHaveLength(4);
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

    await page.screenshot({ path: join(output, 'sweep-page.png'), fullPage: true });
    await page.goto(`${apiUrl}/#/`);
    await page.locator('[data-testid="sweeps"]').getByText('browser-sweep').waitFor();
    await page.screenshot({ path: join(output, 'sweeps-list.png') });

    expect(problems).toEqual([]);
    expect(urls.filter((u) => u.includes(bootstrapToken))).toEqual([]);
  });
});
