// examples/transformers/train.py end to end: the Hugging Face Trainer under lrsweep's integration
// (lrsweep.integrations.transformers) on a tiny GPT-2 with gradient accumulation 4. The server
// checks every reported rate against the schedule, per optimizer update; a kill -9 mid-trial
// resumes from the Trainer's own checkpoint with no gap and no row kept from two attempts; and
// deleting a sweep stops its trial within 10 s while the agent goes on to another sweep's trial.
import { frameworkExampleSuite } from './support/framework-flows';

frameworkExampleSuite({
  title: 'the Hugging Face Trainer example',
  script: 'examples/transformers/train.py',
  pool: 'hf-cpu',
  accumulation: 4,
  modules: ['torch', 'transformers', 'accelerate'],
});
