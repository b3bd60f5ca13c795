export { formatTable } from './table';
export { progressLine, rankingTable } from './render';
export { run, exitCodes } from './commands';
