// Small schemas the API's answer files share (not exported from the package).
import { z } from 'zod';

export const num = z.number();
export const nullableNum = num.nullable();
export const ci = z.tuple([num, num]).nullable();
export const selectedOn = z
  .enum(['validation', 'test', 'trainer'])
  .meta({ description: 'the split the ranking selects on (SWEEP_API.md v1.1)' });
