#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// Exit explicitly: a forgotten handle must never keep a finished `topo` alive (stdout to pipes is synchronous on Linux).
main(process.argv).then((code) => process.exit(code));
