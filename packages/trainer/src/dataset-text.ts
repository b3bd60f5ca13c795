import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type Dataset, DatasetError, type DatasetRequest, enough, fromParts, type Samples } from './datasets';

/** The end of a text that is its test part (SWEEP_API.md's text task: the last tenth). */
const TEST_FRACTION = 0.1;

/**
 * Windows of `ctx + 1` bytes starting every `ctx` bytes of `bytes` (so each byte after the first
 * is a target exactly once): inputs are a window's first `ctx` bytes, targets its last `ctx`.
 */
function windows(bytes: Uint8Array, ctx: number): Samples {
  const n = Math.max(0, Math.floor((bytes.length - 1) / ctx));
  const x = new Int32Array(n * ctx);
  const y = new Int32Array(n * ctx);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < ctx; j++) {
      x[i * ctx + j] = bytes[i * ctx + j]!;
      y[i * ctx + j] = bytes[i * ctx + j + 1]!;
    }
  }
  return { x, y, n, xLen: ctx, yLen: ctx };
}

/**
 * The language-model task on a text file (any bytes; UTF-8 text in practice), byte-level
 * (vocabulary 256): a sample is a window of `contextLength + 1` bytes, predicting each next byte.
 * The file's last tenth is the test part; training and validation windows come from the rest,
 * drawn as every dataset's are (`trainSize`, `validationSize` and `testSize` count windows).
 */
export function loadText(file: string, req: Omit<DatasetRequest, 'name'>): Dataset {
  const ctx = req.contextLength;
  if (!ctx) throw new DatasetError('the text task needs contextLength');
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new DatasetError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const cut = Math.floor(bytes.length * (1 - TEST_FRACTION));
  const train = windows(bytes.subarray(0, cut), ctx);
  const test = windows(bytes.subarray(cut), ctx);
  enough(`${basename(file)} (${bytes.length} bytes, contextLength ${ctx})`, train.n, test.n, req, 'windows');
  return fromParts({ name: 'text', task: 'lm', shape: [ctx], numClasses: 256 }, train, test, req);
}
