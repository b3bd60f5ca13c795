import { describe, expect, it } from 'vitest';
import { band, metricBounds, scheduleColors, tickLabel } from './scales';

describe('chart scales', () => {
  it('labels small and large ticks in scientific notation, never as 0', () => {
    expect([1e-4, 2.5e-4, 0.001, 0.01, 0.25, 12, 3e5, 0, -1e-5].map(tickLabel)).toEqual([
      '1e-4',
      '2.5e-4',
      '0.001',
      '0.01',
      '0.25',
      '12',
      '3e5',
      '0',
      '-1e-5',
    ]);
  });
  it('gives each schedule one colour whatever subset is shown', () => {
    const all = scheduleColors(['b', 'a', 'c']);
    const some = scheduleColors(['c', 'a', 'b', 'a']);
    expect(['a', 'b', 'c'].map(all)).toEqual(['a', 'b', 'c'].map(some));
    expect(new Set(['a', 'b', 'c'].map(all)).size).toBe(3);
  });
  it('clamps every band to the metric range', () => {
    const p = { mean: 0.9, ci95: [-2, 3] as [number, number], sem: 0.2, range: [0.85, 0.95] as [number, number] };
    expect(band('ci', p, metricBounds('val_acc'))).toEqual([0, 1]);
    expect(band('sem', p, metricBounds('val_acc'))).toEqual([0.7, 1]);
    expect(band('range', p, metricBounds('val_acc'))).toEqual([0.85, 0.95]);
    expect(band('ci', { ...p, mean: 0.1, ci95: [-0.5, 0.7] }, metricBounds('val_loss'))).toEqual([0, 0.7]);
    expect(band('ci', { ...p, ci95: null }, metricBounds('val_loss'))).toBeNull();
  });
});
