// Checks an aws CLI JSON answer against botocore's output shape for the operation: every key
// is a member of its shape, every value has the member's type (timestamps as the CLI prints
// them, ISO 8601 text). The same model the CLI parsed the XML with, so a field the emulator
// invents or mistypes shows up here even where the CLI stayed silent.
import { loadElasticBeanstalkModel, type ServiceModel } from '../../sandbox/eb/model.js';

let model: ServiceModel | undefined;
export function ebModel(): ServiceModel {
  return (model ??= loadElasticBeanstalkModel());
}

/** The problems found; empty when the answer fits `operation`'s output shape. */
export function shapeProblems(operation: string, answer: unknown): string[] {
  const m = ebModel();
  const output = m.operations[operation]?.output?.shape;
  if (!output) return answer === undefined || answer === '' ? [] : [`${operation} has no output shape, got ${JSON.stringify(answer)}`];
  const problems: string[] = [];
  const walk = (shapeName: string, value: unknown, path: string) => {
    const shape = m.shapes[shapeName] as ServiceModel['shapes'][string] & { enum?: string[] };
    switch (shape.type) {
      case 'structure':
        if (!value || typeof value !== 'object' || Array.isArray(value)) return void problems.push(`${path}: not an object`);
        for (const [key, item] of Object.entries(value)) {
          const member = shape.members?.[key];
          if (!member) problems.push(`${path}.${key}: not a member of ${shapeName}`);
          else walk(member.shape, item, `${path}.${key}`);
        }
        return;
      case 'list':
        if (!Array.isArray(value)) return void problems.push(`${path}: not a list`);
        value.forEach((item, i) => walk(shape.member!.shape, item, `${path}[${i}]`));
        return;
      case 'map':
        if (!value || typeof value !== 'object') return void problems.push(`${path}: not a map`);
        for (const [key, item] of Object.entries(value)) walk(shape.value!.shape, item, `${path}.${key}`);
        return;
      case 'string':
        if (typeof value !== 'string') return void problems.push(`${path}: not a string`);
        // Case aside: EB sends some enums in capitals the model spells otherwise (an application
        // version's Status is "UNPROCESSED" on the wire, the model's "Unprocessed").
        if (shape.enum && !shape.enum.some((v) => v.toLowerCase() === value.toLowerCase())) problems.push(`${path}: '${value}' is not one of ${shape.enum.join('|')}`);
        return;
      case 'timestamp':
        if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) problems.push(`${path}: not a timestamp`);
        return;
      case 'boolean':
        if (typeof value !== 'boolean') problems.push(`${path}: not a boolean`);
        return;
      case 'integer':
      case 'long':
        if (!Number.isInteger(value)) problems.push(`${path}: not an integer`);
        return;
      case 'double':
      case 'float':
        if (typeof value !== 'number') problems.push(`${path}: not a number`);
        return;
      default:
        return;
    }
  };
  walk(output, answer, operation);
  return problems;
}
