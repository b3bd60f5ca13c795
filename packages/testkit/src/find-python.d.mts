export function findPython(minor: 9 | 11): string | null;
export function sdkVenv(minor: 9 | 11): string;
export function sdkPython(minor: 9 | 11): string | null;
export const sdkMinors: readonly (9 | 11)[];
