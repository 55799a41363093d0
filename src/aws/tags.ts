// Ownership: every resource we create carries these tags, and we find, change and delete
// resources only through them, never by "everything in the account".

export const TAG_PHASE = 'johanna:phase';
export const TAG_ROLE = 'johanna:role';

export interface Tag {
  Key: string;
  Value: string;
}

/** Our tags for one resource: the phase, its role in the phase, and the original's Name. */
export function ownerTags(phase: string, role: string, name?: string): Tag[] {
  const tags: Tag[] = [
    { Key: TAG_PHASE, Value: phase },
    { Key: TAG_ROLE, Value: role },
  ];
  if (name) tags.push({ Key: 'Name', Value: name });
  return tags;
}

/** `--tag-specifications` value so tags go on at creation, not in an extra call. */
export function tagSpec(resourceType: string, tags: Tag[]): string {
  return `ResourceType=${resourceType},Tags=[${tags.map((t) => `{Key=${t.Key},Value=${t.Value}}`).join(',')}]`;
}

/** `--filters` that select this phase's resources (optionally one role). */
export function phaseFilters(phase: string, role?: string): string[] {
  const f = [`Name=tag:${TAG_PHASE},Values=${phase}`];
  if (role) f.push(`Name=tag:${TAG_ROLE},Values=${role}`);
  return f;
}

export function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}
