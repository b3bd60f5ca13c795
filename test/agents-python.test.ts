// The Python agent SDK (packages/agent-python), on Python 3.9 and 3.11, through every flow of
// the agent protocol's guarantees (test/support/agent-flows.ts).
import { findPython, startAgentProcess } from '@lrsweep/testkit';
import { describeAgentFlows } from './support/agent-flows';

for (const minor of [11, 9] as const) {
  const python = findPython(minor);
  describeAgentFlows(
    `python 3.${minor}`,
    python ? (env) => startAgentProcess(python, ['test/fixtures/agents/logreg.py'], env) : null,
    {
      name: `python3.${minor}`,
      how: `install Python 3.${minor} (pyenv install 3.${minor}, or Debian's python3.${minor})`,
    },
  );
}
