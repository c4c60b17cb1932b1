import { randomUUID } from 'node:crypto';
import { flatString } from './flat-string.js';

/** A new globally unique id for a stored record (or a connection): flat, not the rope `randomUUID()` makes. */
export const newId = (): string => flatString(randomUUID());

/** The current time in the contract's DateTime form. */
export const now = (): string => new Date().toISOString();
