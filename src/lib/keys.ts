/**
 * One component of a storage index or channel name, encoded so that it can
 * hold no `:`. Org and user ids come from tokens and may contain anything;
 * encoded, `org:${a}:user:${b}` can never be read two ways, so one tenant's
 * name can never spell another's.
 */
export const keyPart = (value: string): string => encodeURIComponent(value);
