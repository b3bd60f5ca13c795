import { describe, expect, it } from 'vitest';
import { duration } from './format';

describe('duration', () => {
  it('reads as ms under a second, seconds with a tenth under a minute, then minutes and seconds', () => {
    expect(duration(0)).toBe('0 ms');
    expect(duration(840.4)).toBe('840 ms');
    expect(duration(1000)).toBe('1.0 s');
    expect(duration(12_345)).toBe('12.3 s');
    expect(duration(60_000)).toBe('1 min 00 s');
    expect(duration(245_400)).toBe('4 min 05 s');
  });
});
