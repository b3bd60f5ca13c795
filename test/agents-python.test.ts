// The Python agent SDK (packages/agent-python), on Python 3.9 and 3.11, through every flow of
// the agent protocol's guarantees (test/support/agent-flows.ts).
import { sdkPython, startAgentProcess } from '@lrsweep/testkit';
import { describeAgentFlows } from './support/agent-flows';

for (const minor of [11, 9] as const) {
  // A venv of that Python with the lrsweep wheel installed (npm test makes it).
  const python = sdkPython(minor);
  describeAgentFlows(
    `python 3.${minor}`,
    python ? (env) => startAgentProcess(python, ['test/fixtures/agents/logreg.py'], env) : null,
    {
      name: `python3.${minor}`,
      how: `install Python 3.${minor} (pyenv install 3.${minor}, or Debian's python3.${minor}), then npm test makes .venv-sdk-3.${minor} with the lrsweep wheel`,
    },
  );
}
