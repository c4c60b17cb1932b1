import { badInput } from '../errors.js';

/**
 * A required text field: trimmed, then between `min` and `max` characters.
 * Throws BAD_USER_INPUT naming the field.
 */
export function requireText(field: string, value: string, { min = 1, max }: { min?: number; max: number }): string {
  const text = value.trim();
  // Characters as people count them: code points, so an emoji is one.
  const length = [...text].length;
  if (length < min) {
    throw badInput(min === 1 ? `${field} must not be empty` : `${field} must have at least ${min} characters`, field);
  }
  if (length > max) throw badInput(`${field} must have at most ${max} characters`, field);
  return text;
}

/** An optional text field: `null`/`undefined` stay absent, otherwise as {@link requireText}. */
export function optionalText(
  field: string,
  value: string | null | undefined,
  limits: { min?: number; max: number },
): string | undefined {
  return value === null || value === undefined ? undefined : requireText(field, value, limits);
}

/** Ids are opaque but bounded, so nothing unbounded reaches storage keys or logs. */
export function requireId(field: string, value: string): string {
  if (value.length === 0 || value.length > 128 || /[\s:]/.test(value)) {
    throw badInput(`${field} is not a valid id`, field);
  }
  return value;
}

/**
 * Free text that may be left empty: trimmed, at most `max` characters, and
 * empty (or blank) means none, i.e. `null`.
 */
export function textOrNull(field: string, value: string, { max }: { max: number }): string | null {
  return requireText(field, value, { min: 0, max }) || null;
}

/**
 * A user id as a token's `sub` carries it: 1 to 128 characters, taken
 * exactly. There is no user directory to check it against; storage keys and
 * channel names encode it (see `keyPart`), so any such id is safe there.
 */
export function requireUserId(field: string, value: string): string {
  // Any token `sub` fits (`:` and `|` included) except blanks and control characters.
  if (value.length === 0 || value.length > 128 || /[\s\p{Cc}]/u.test(value)) {
    throw badInput(`${field} must be a user id of 1 to 128 characters without spaces`, field);
  }
  return value;
}

/** A whole number from `min` to `max` inclusive. */
export function requireIntInRange(field: string, value: number, { min, max }: { min: number; max: number }): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${field} must be a whole number from ${min} to ${max}`, field);
  }
  return value;
}
