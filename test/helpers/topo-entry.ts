import { main } from '../../src/cli/main.js';

process.exit(await main(process.argv));
