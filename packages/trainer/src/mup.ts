/**
 * μP (Yang et al. 2022, "Tensor Programs V", arXiv 2203.03466, Table 3): how each parameter's
 * initialisation and learning rate scale with the width, so that the base LR tuned on a narrow
 * model is the base LR of a wide one. The models mark what each parameter is (its role, as they
 * build it: layers.ts); the optimizers take a rate per parameter (optimizers.ts `Rates`), which
 * is the hook a packed trial's members' rates use too.
 *
 * Relative to the base width (multiplier m = width / base width):
 *
 * | role | what | init | Adam LR | SGD LR |
 * |---|---|---|---|---|
 * | input | weights from a fixed size into the width (first layer, embeddings) | fan-in | ×1 | ×m |
 * | hidden | weights from the width into the width | fan-in | ×1/m | ×1 |
 * | output | weights from the width to a fixed size (the readout) | zero | ×1/m | ×1/m |
 * | vector | biases, norms' gains and shifts, positions: one value per unit of the width | as standard | ×1 | ×m |
 * | fixed | sizes that do not grow (the readout's bias) | as standard | ×1 | ×1 |
 *
 * Attention logits are scaled by 1/d (the head size) instead of 1/√d (transformer.ts).
 */
import { type OptimizerSpec, TrialError } from '@lrsweep/contract';

export type ParamRole = 'input' | 'hidden' | 'output' | 'vector' | 'fixed';

/** How a model's parameters are made: the standard way, or μP at width multiplier `m`. */
export type Parametrization = { kind: 'standard' } | { kind: 'mup'; widthMultiplier: number };

export const standard: Parametrization = { kind: 'standard' };

/** A model spec's parametrization (mlp, cnn, vit and gpt take one; the others are standard). */
export function parametrizationOf(model: object): Parametrization {
  const m = model as { parametrization?: string; widthMultiplier?: number };
  return m.parametrization === 'mup' ? { kind: 'mup', widthMultiplier: m.widthMultiplier ?? 1 } : standard;
}

/**
 * Each parameter's multiplier of the schedule's rate under μP for this optimizer; null under the
 * standard parametrization (one rate for all).
 */
export function lrMultipliers(
  p: Parametrization,
  roles: readonly ParamRole[] | undefined,
  optimizer: OptimizerSpec['kind'],
): number[] | null {
  if (p.kind !== 'mup' || !roles) return null;
  const m = p.widthMultiplier;
  const sgd = optimizer === 'sgd';
  if (optimizer === 'schedule_free_adamw')
    throw new TrialError('CONFIG_INVALID', 'μP has no per-layer rates for schedule-free AdamW: use adam, adamw or sgd');
  return roles.map((role) => {
    switch (role) {
      case 'input':
      case 'vector':
        return sgd ? m : 1;
      case 'hidden':
        return sgd ? 1 : 1 / m;
      case 'output':
        return 1 / m;
      case 'fixed':
        return 1;
    }
  });
}
