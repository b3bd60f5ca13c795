// The tests start the apps the way the demo does.
export { type RunningProcess, startApi, startApp, startWorker } from '../../scripts/lib/launch';
