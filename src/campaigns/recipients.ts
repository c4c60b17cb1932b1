import { badInput } from '../errors.js';

/** Most recipients one campaign may have. */
export const MAX_RECIPIENTS = 100_000;

const PHONE_SEPARATORS = /[\s().-]/g;
const PHONE = /^\+?\d{6,15}$/;
const ADDRESS = /^[^\s@]{1,64}@[^\s@.][^\s@]{0,188}$/;

/**
 * One recipient in canonical form: a phone number as digits with an optional
 * leading `+` (`00` becomes `+`; spaces, dashes, dots and brackets go), or an
 * address `local@domain` with the domain lower-cased. Undefined when it is
 * neither.
 */
export function normalizeRecipient(raw: string): string | undefined {
  const value = raw.trim();
  if (value.length === 0 || value.length > 254) return undefined;
  if (value.includes('@')) {
    if (!ADDRESS.test(value)) return undefined;
    const at = value.lastIndexOf('@');
    return value.slice(0, at) + value.slice(at).toLowerCase();
  }
  const phone = value.replace(PHONE_SEPARATORS, '').replace(/^00/, '+');
  return PHONE.test(phone) ? phone : undefined;
}

/**
 * The distinct recipients of a campaign, in the order first given.
 * Throws BAD_USER_INPUT (field `recipients`) naming the first bad entry.
 */
export function parseRecipients(list: readonly string[]): string[] {
  if (list.length === 0) throw badInput('recipients must not be empty', 'recipients');
  if (list.length > MAX_RECIPIENTS) {
    throw badInput(`recipients may hold at most ${MAX_RECIPIENTS} entries`, 'recipients');
  }
  const seen = new Set<string>();
  list.forEach((raw, index) => {
    const recipient = normalizeRecipient(raw);
    if (!recipient) {
      const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
      throw badInput(
        `recipients[${index}] ("${shown}") is not a phone number (6 to 15 digits) or an address like name@domain`,
        'recipients',
      );
    }
    seen.add(recipient);
  });
  return [...seen];
}
