import { z } from 'zod';

/** `(train|val|test)_[a-z0-9_]+`: every metric name a trainer may report (SWEEP_API.md v1.1). */
export const metricNamePattern = /^(train|val|test)_[a-z0-9_]+$/;
const named = (pattern: RegExp, what: string) =>
  z.string().max(64, 'a metric name has at most 64 characters').regex(pattern, `${what} match ${pattern.source}`);

export const metricNameSchema = named(metricNamePattern, 'metric names');
/**
 * The metrics a sweep may select on: `val_*` and `train_*`. `test_*` never selects (it is
 * reported beside the ranking).
 */
export const selectionMetricSchema = named(/^(train|val)_[a-z0-9_]+$/, 'objective metrics (val_* or train_*)');
export type MetricName = string;

/** What the built-in TF.js trainer reports: val_acc for classification, val_rmse for regression, val_ppl for text. */
export const builtinMetrics = ['val_loss', 'val_acc', 'train_loss', 'val_rmse', 'val_ppl'] as const;
/** Reported once, after the last update, on the test split. */
export const testMetrics = ['test_loss', 'test_acc', 'test_rmse', 'test_ppl'] as const;

const lowerIsBetter = [
  'loss',
  'ppl',
  'perplexity',
  'rmse',
  'mse',
  'mae',
  'error',
  'err',
  'wer',
  'cer',
  'nll',
  'bpb',
  'bpc',
];
const higherIsBetter = [
  'acc',
  'accuracy',
  'f1',
  'auc',
  'auroc',
  'bleu',
  'rouge',
  'map',
  'iou',
  'precision',
  'recall',
  'r2',
];

/**
 * The direction a metric improves in when lrsweep knows it by its last word (`val_loss` down,
 * `val_acc` up, `val_ppl` down …); null for names it does not know (a sweep then says `mode`).
 */
export function naturalModeOf(metric: string): 'min' | 'max' | null {
  const word = metric.split('_').at(-1) ?? '';
  if (lowerIsBetter.includes(word)) return 'min';
  if (higherIsBetter.includes(word)) return 'max';
  return null;
}

/** The direction to rank `metric` in under a sweep's objective: its own mode for its metric. */
export function modeUnder(metric: string, objective: { metric: string; mode: 'min' | 'max' }): 'min' | 'max' {
  return metric === objective.metric ? objective.mode : (naturalModeOf(metric) ?? 'min');
}

export const aggregateSchema = z.enum(['final', 'best', 'auc']);
export type Aggregate = z.infer<typeof aggregateSchema>;
