import { randomUUID } from 'node:crypto';

/** A new globally unique id for a stored record. */
export const newId = (): string => randomUUID();

/** The current time in the contract's DateTime form. */
export const now = (): string => new Date().toISOString();
