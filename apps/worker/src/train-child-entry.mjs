// Entry of a slot's trainer process (train-child.ts). Its code is TypeScript: register tsx's
// loader here, as the worker is started without loader flags that a forked process could inherit.
import { register } from 'tsx/esm/api';

// The worker gone while this process still loads (a kill -9 in its first second): exit, as
// train-child.ts does once loaded. Listening before the load leaves no window to miss it in.
process.on('disconnect', () => process.exit(0));
register();
await import('./train-child.ts');
if (!process.connected) process.exit(0);
