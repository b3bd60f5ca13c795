// examples/lightning/train.py end to end: PyTorch Lightning under lrsweep's integration
// (lrsweep.integrations.lightning) with accumulate_grad_batches 4: every rate matches the schedule
// per optimizer update, a kill -9 resumes from Lightning's own checkpoint with no gap and no row
// kept from two attempts, and deleting a sweep stops its trial within 10 s while the agent goes on.
import { frameworkExampleSuite } from './support/framework-flows';

frameworkExampleSuite({
  title: 'the PyTorch Lightning example',
  script: 'examples/lightning/train.py',
  pool: 'lightning-cpu',
  accumulation: 4,
  modules: ['torch', 'lightning'],
});
