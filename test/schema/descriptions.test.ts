import { expect, it } from 'vitest';
import { createSchema } from '../../src/schema.js';
import { undocumented } from './undocumented.js';

it('describes every type, field, argument, enum value and input field of the schema', () => {
  expect(undocumented(createSchema()), 'add a description to each of these in schema/*.graphql').toEqual([]);
});
