import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderSchema } from '../../scripts/generate-schema.js';

describe('schema/nightless.schema.json', () => {
  it('is generated from the zod schema and committed up to date', async () => {
    expect(readFileSync('schema/nightless.schema.json', 'utf8')).toBe(await renderSchema());
  });

  it('is draft-07 with the top-level keys and no extra keys allowed', () => {
    const schema = JSON.parse(readFileSync('schema/nightless.schema.json', 'utf8')) as {
      $schema: string;
      properties: Record<string, unknown>;
      additionalProperties: boolean;
      required: string[];
    };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(Object.keys(schema.properties)).toEqual([
      'version',
      'pipeline',
      'sources',
      'jobs',
      'reports',
      'retention',
      'network',
      'slos',
    ]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(['jobs']);
  });
});
