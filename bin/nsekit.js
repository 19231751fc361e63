#!/usr/bin/env node
// Registers tsx so the CLI runs straight from the TypeScript sources, then hands over.
import { register } from 'tsx/esm/api';

register();
await import('../sim/cli/nsekit.ts');
