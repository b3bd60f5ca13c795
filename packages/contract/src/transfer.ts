/**
 * LR transfer across scale (#28): where a sweep's scale lives (`transfer` in the spec) and what
 * `GET /v1/sweeps/:id/transfer` answers (η* per schedule and scale, the law η* = a · scale^b with
 * intervals, the extrapolation to a target, and whether the winning schedule changes with scale).
 */
import { z } from 'zod';

/** `grid.config.<key>`: an external trainer's own axis holding widths. */
export const transferWidthAxis = /^grid\.config\.([A-Za-z_][A-Za-z0-9_.-]{0,63})$/;

export const transferSpecSchema = z
  .strictObject({
    width: z
      .strictObject({
        from: z.string().max(80).meta({
          description:
            'the axis holding the widths: grid.config.<key> (an external trainer’s own axis of positive numbers)',
        }),
      })
      .optional(),
    length: z
      .strictObject({ from: z.literal('grid.horizon').meta({ description: 'the horizon axis (updates)' }) })
      .optional(),
    baseWidth: z.number().positive().max(1e12).optional().meta({
      description:
        'the width the scale is measured from, in the axis’ own units (scale = width / baseWidth; default: 1, so grid.scale’s multipliers are the scale)',
    }),
    target: z
      .strictObject({
        width: z.number().positive().max(1e12).optional().meta({ description: 'the width of the run to carry η* to' }),
        steps: z.number().int().positive().max(1e12).optional().meta({ description: 'its length in updates' }),
      })
      .optional(),
    parametrization: z.enum(['standard', 'mup']).optional().meta({
      description:
        "how the trainer scales its layers (default: the built-in model's model.parametrization, else standard); under mup η* should not move with width, and the answer warns when it does",
    }),
  })
  .meta({
    description:
      'where the scale of a transfer study lives: the width axis and/or the length axis, and the target run to extrapolate η* to',
  });
export type TransferSpec = z.output<typeof transferSpecSchema>;

export const transferQuery = z.strictObject({
  targetWidth: z.coerce.number().positive().max(1e12).optional().describe('overrides transfer.target.width'),
  targetSteps: z.coerce.number().int().positive().max(1e12).optional().describe('overrides transfer.target.steps'),
});
