export { formatTable } from './table';
export { failureLines, progressLine, rankingTable, verdictTable } from './render';
export { run, exitCodes } from './commands';
