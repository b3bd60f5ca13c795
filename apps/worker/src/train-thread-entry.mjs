// Entry of a training thread. The thread's code is TypeScript; register tsx's loader in this
// thread first (loader flags of the parent are not inherited by worker threads on Node 20).
import { register } from 'tsx/esm/api';

register();
await import('./train-thread.ts');
