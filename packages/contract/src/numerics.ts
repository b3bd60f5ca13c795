import { z } from 'zod';

/**
 * What fixes a built-in trial's numbers, bit for bit: the backend and everything under it that
 * changes a float's last bits (TensorFlow reads its thread counts and oneDNN once per process, the
 * fused kernels have an AVX2 copy and a plain one). One per sweep, chosen once and recorded on the
 * sweep: every trial, resume and fork of it trains under the same key, so a resumed series equals
 * an uninterrupted one and a sweep run twice is the same experiment twice.
 */
export const numericsKeySchema = z
  .object({
    backend: z.string().meta({ description: 'the TF.js backend: tensorflow (native), wasm or cpu' }),
    gpu: z.boolean(),
    tfjs: z.string().meta({ description: "TF.js's version" }),
    tf: z.string().optional().meta({ description: "the native backend's TensorFlow version" }),
    intraOpThreads: z.number().int().positive().optional().meta({ description: 'native CPU: TF_NUM_INTRAOP_THREADS' }),
    onednn: z.boolean().optional().meta({ description: 'native CPU: oneDNN on (TF_ENABLE_ONEDNN_OPTS)' }),
    fusedKernels: z.boolean().optional().meta({ description: "native CPU: lrsweep's fused layer-norm and GELU" }),
    isa: z
      .string()
      .optional()
      .meta({ description: "native CPU: which copy of the fused kernels runs (x86-64-v3 or 'default')" }),
  })
  .meta({ id: 'NumericsKey' });
export type NumericsKey = z.infer<typeof numericsKeySchema>;

/**
 * The key as one line, the same for the same key whatever the order of its fields: what claims
 * compare and what people read (`tensorflow cpu · TF 2.21.0 · tfjs 4.22.0 · 1 thread · oneDNN on
 * · fused x86-64-v3`).
 */
export function numericsKeyId(k: NumericsKey): string {
  const parts = [`${k.backend} ${k.gpu ? 'gpu' : 'cpu'}`];
  if (k.tf !== undefined) parts.push(`TF ${k.tf}`);
  parts.push(`tfjs ${k.tfjs}`);
  if (k.intraOpThreads !== undefined) parts.push(`${k.intraOpThreads} thread${k.intraOpThreads === 1 ? '' : 's'}`);
  if (k.onednn !== undefined) parts.push(`oneDNN ${k.onednn ? 'on' : 'off'}`);
  if (k.fusedKernels !== undefined) parts.push(k.fusedKernels ? `fused ${k.isa ?? 'default'}` : 'unfused');
  return parts.join(' · ');
}

/** The backend a key id names (its first word: `numericsKeyId` begins with it). */
export const numericsBackendOf = (id: string): string => id.split(' ')[0] ?? '';

/** A sweep's recorded key, as the sweep view shows it; null until its first trial starts (and for agents' sweeps). */
export const sweepNumericsSchema = z
  .object({
    id: z.string().meta({ description: 'the key as one line (what workers compare)' }),
    key: numericsKeySchema,
    reason: z.string().meta({ description: 'how it was chosen: the spec, a worker setting, or a probe' }),
    chosenBy: z.string().meta({ description: 'the worker that chose it' }),
    chosenAt: z.iso.datetime(),
  })
  .meta({ id: 'SweepNumerics' });
export type SweepNumerics = z.infer<typeof sweepNumericsSchema>;
