#!/usr/bin/env node
// The lrsweep command: runs the TypeScript entry through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
