import type { ModelSpec } from '@lrsweep/contract';

/** Most heads a scaled transformer gets: past it the head size grows instead. */
export const maxScaledHeads = 16;

/**
 * A built-in model `scale` times as wide (grid.scale): an mlp's hidden sizes, a cnn's channels, a
 * transformer's width — its heads grow with it up to 16, then each head grows, so the width
 * stays a multiple of the heads. Depth, patch size and everything else stay. Widths round to
 * the nearest whole unit, at least 1. LeNet and layers models have no width (refused earlier).
 * Under μP, `widthMultiplier` is the scale over `baseWidth` (transfer.baseWidth, in scale units).
 */
export function scaleModel(model: ModelSpec, scale: number, baseWidth = 1): ModelSpec {
  const times = (n: number) => Math.max(1, Math.round(n * scale));
  const widened = widen(model, scale, times);
  // Under μP the trainer scales its per-layer rates by how much wider than the base this one is.
  return 'parametrization' in widened && widened.parametrization === 'mup'
    ? { ...widened, widthMultiplier: scale / baseWidth }
    : widened;
}

function widen(model: ModelSpec, scale: number, times: (n: number) => number): ModelSpec {
  switch (model.kind) {
    case 'mlp':
      return { ...model, hidden: model.hidden.map(times) };
    case 'cnn':
      return { ...model, channels: model.channels.map(times) };
    case 'vit':
    case 'gpt': {
      const heads = Math.min(maxScaledHeads, Math.max(1, Math.round(model.heads * scale)));
      const headSize = Math.max(1, Math.round((model.width * scale) / heads));
      return { ...model, heads, width: heads * headSize };
    }
    default:
      return model;
  }
}

/** Whether grid.scale can widen this model (lenet has fixed widths; a layers model is the user's file). */
export const scalable = (model: ModelSpec) => ['mlp', 'cnn', 'vit', 'gpt'].includes(model.kind);
