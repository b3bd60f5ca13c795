import type { SpecIssue } from './issues';
import { formatPath } from './issues';
import { wsdDecaySteps } from './rates';
import { cooldownOf, type ScheduleSpec } from './schema';

/**
 * Problems that appear only once the trial's horizon `T` is known: a warmup or milestone that
 * leaves a part with no updates, a decay longer than the schedule it ends.
 */
export function horizonIssues(spec: ScheduleSpec, horizon: number, path: PropertyKey[] = []): SpecIssue[] {
  const out: SpecIssue[] = [];
  const at = (...p: PropertyKey[]) => formatPath([...path, ...p]);
  let own = horizon;
  if (spec.warmup && spec.warmup.steps > 0) {
    own = horizon - spec.warmup.steps;
    if (own <= 0) {
      out.push({
        path: at('warmup', 'steps'),
        message: `warmup of ${spec.warmup.steps} steps leaves no updates for the schedule (horizon ${horizon})`,
      });
      return out;
    }
  }
  const cooldown = cooldownOf(spec);
  if (cooldown && cooldown.steps > own) {
    out.push({
      path: at('cooldown', 'steps'),
      message: `a cooldown of ${cooldown.steps} steps is longer than the schedule after its warmup (${own})`,
    });
  }
  if (spec.kind === 'wsd') {
    const d = wsdDecaySteps(spec, own);
    if (d > own)
      out.push({ path: at('decaySteps'), message: `decay of ${d} steps is longer than the schedule's ${own}` });
    if (d < 1) out.push({ path: at('decayFraction'), message: `decayFraction rounds to 0 decay steps over ${own}` });
  }
  if (spec.kind === 'sequential') {
    const starts = [0, ...spec.milestones];
    spec.parts.forEach((part, k) => {
      const span = (starts[k + 1] ?? own) - starts[k]!;
      if (span <= 0) {
        out.push({
          path: at('milestones', Math.max(0, k - 1)),
          message: `milestone ${starts[k]} leaves part ${k} with no updates (horizon ${own})`,
        });
      } else out.push(...horizonIssues(part, span, [...path, 'parts', k]));
    });
  }
  return out;
}
