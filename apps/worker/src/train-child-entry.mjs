// Entry of a slot's trainer process (train-child.ts). Its code is TypeScript: register tsx's
// loader here, as the worker is started without loader flags that a forked process could inherit.
import { register } from 'tsx/esm/api';

register();
await import('./train-child.ts');
