/**
 * The dataset part of the sweep spec (SWEEP_API.md v1.1): the built-in datasets, those read from
 * files, and the user's own under DATA_ROOT, with the lexical path checks every root shares.
 */
import { z } from 'zod';

/** How many samples each built-in dataset has (train + test must fit). */
export const datasetSizes = { mnist: 10_000, synthetic: 1_000_000 } as const;
/** Training and test samples of the datasets read from files (their official splits). */
export const fileDatasetSizes = {
  'fashion-mnist': [60_000, 10_000],
  'mnist-idx': [60_000, 10_000],
  cifar10: [50_000, 10_000],
} as const;

/**
 * Why a path given in a spec cannot be used, checked lexically (the workers check again on the
 * real file system): paths are relative to a root the workers configure (DATA_ROOT, MODEL_ROOT),
 * so an absolute path, a `..` that climbs out of the root, a backslash, or an empty segment is refused.
 */
export function relativePathProblem(p: string): string | null {
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return 'give a path relative to the data root, not an absolute one';
  if (p.includes('\\')) return 'use / to separate directories';
  let depth = 0;
  for (const seg of p.split('/')) {
    if (seg === '..') depth -= 1;
    else if (seg !== '.' && seg !== '') depth += 1;
    if (depth < 0) return 'the path leaves the data root';
  }
  return null;
}

/** A path relative to a configured root (DATA_ROOT, MODEL_ROOT). */
export const rootedPathSchema = z
  .string()
  .min(1)
  .max(1000)
  .superRefine((p, ctx) => {
    const problem = relativePathProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** The seed that draws the training and validation samples unless `splitSeed` says otherwise (v1's split). */
export const defaultSplitSeed = 20_240_601;

/** Datasets read from files of the user's own (under DATA_ROOT); sizes are checked by the workers. */
export const ownDatasets = ['npy', 'csv', 'text'] as const;

export const datasetSchema = z
  .strictObject({
    name: z.enum(['mnist', 'synthetic', 'fashion-mnist', 'mnist-idx', 'cifar10', ...ownDatasets]).default('mnist'),
    /** Samples drawn from the training split: `validationSize` of them validate, the rest train. */
    trainSize: z.number().int().positive().default(8000),
    testSize: z.number().int().positive().default(2000),
    validationSize: z.number().int().min(0).optional().meta({
      description:
        'held out of trainSize for val_* metrics (default ceil(trainSize / 10)); 0 evaluates on the test split (v1)',
    }),
    splitSeed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(defaultSplitSeed)
      .meta({ description: `draws the training and validation samples (default ${defaultSplitSeed})` }),
    /** The directory of the files, relative to the workers' DATA_ROOT (fashion-mnist: Debian's by default). */
    path: rootedPathSchema
      .optional()
      .meta({ description: "the files, relative to the workers' DATA_ROOT (fashion-mnist without one: Debian's)" }),
    /** csv: the label column (name, or 0-based index; default the last), and what it is. */
    label: z.union([z.string().min(1).max(200), z.number().int().min(0)]).optional(),
    task: z
      .enum(['classification', 'regression'])
      .optional()
      .meta({ description: 'csv and npy: classification (class labels, the default) or regression' }),
    /** text: a sample is a window of contextLength + 1 bytes. */
    contextLength: z.number().int().min(2).max(4096).optional(),
    vocab: z.literal('bytes').optional(),
  })
  .superRefine((d, ctx) => {
    if (d.validationSize !== undefined && d.validationSize >= d.trainSize) {
      ctx.addIssue({
        code: 'custom',
        path: ['validationSize'],
        message: `validationSize ${d.validationSize} leaves no training samples of trainSize ${d.trainSize}`,
      });
    }
    const only = (key: 'label' | 'task' | 'contextLength' | 'vocab', names: string[]) => {
      if (d[key] !== undefined && !names.includes(d.name))
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `${key} is for the ${names.join(' and ')} dataset${names.length > 1 ? 's' : ''}`,
        });
    };
    only('label', ['csv']);
    only('task', ['csv', 'npy']);
    only('contextLength', ['text']);
    only('vocab', ['text']);
    if ((ownDatasets as readonly string[]).includes(d.name)) {
      if (d.path === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['path'],
          message: `'${d.name}' needs the path of its files (relative to DATA_ROOT)`,
        });
      if (d.name === 'text' && d.contextLength === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['contextLength'],
          message: 'the text task needs contextLength (each sample is contextLength + 1 bytes)',
        });
      return;
    }
    if (d.name === 'mnist' || d.name === 'synthetic') {
      const max = datasetSizes[d.name];
      if (d.trainSize + d.testSize > max) {
        ctx.addIssue({
          code: 'custom',
          path: ['trainSize'],
          message: `trainSize + testSize = ${d.trainSize + d.testSize} is larger than the '${d.name}' dataset (${max} samples)`,
        });
      }
      if (d.path !== undefined)
        ctx.addIssue({ code: 'custom', path: ['path'], message: `the '${d.name}' dataset takes no path` });
      return;
    }
    const [train, test] = fileDatasetSizes[d.name as keyof typeof fileDatasetSizes];
    if (d.trainSize > train)
      ctx.addIssue({ code: 'custom', path: ['trainSize'], message: `'${d.name}' has ${train} training samples` });
    if (d.testSize > test)
      ctx.addIssue({ code: 'custom', path: ['testSize'], message: `'${d.name}' has ${test} test samples` });
    if (d.name !== 'fashion-mnist' && d.path === undefined)
      ctx.addIssue({ code: 'custom', path: ['path'], message: `'${d.name}' needs the directory of its files` });
  })
  .transform((d) => ({ ...d, validationSize: d.validationSize ?? Math.ceil(d.trainSize / 10) }));
