import type { Bulwark } from '@bulwark/core';

/** Injection token of the app's wired Bulwark services (passwords, tokens, brute-force guard...). */
export const HR_KIT = Symbol('HR_KIT');

export type HrKit = Bulwark;
