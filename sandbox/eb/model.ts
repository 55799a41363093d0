import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Shape {
  type: string;
  members?: Record<string, { shape: string; locationName?: string }>;
  member?: { shape: string; locationName?: string };
  key?: { shape: string };
  value?: { shape: string };
}

export interface Operation {
  name: string;
  output?: { shape: string; resultWrapper?: string };
}

export interface ServiceModel {
  metadata: { xmlNamespace: string };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

/**
 * EB's API model as botocore ships it. moto needs botocore, so it is always installed beside
 * it, and it is the very model the aws CLI parses our answers with: serializing from it keeps
 * field names, order and list wrapping exactly what the CLI expects.
 */
export function loadElasticBeanstalkModel(python = 'python3'): ServiceModel {
  const botocoreDir = execFileSync(python, ['-c', 'import botocore,os;print(os.path.dirname(botocore.__file__))'], {
    encoding: 'utf8',
  }).trim();
  const file = join(botocoreDir, 'data', 'elasticbeanstalk', '2010-12-01', 'service-2.json.gz');
  return withEbCliMembers(JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as ServiceModel);
}

/**
 * What EB answers beyond botocore's public model. The EB CLI parses with a model of its own
 * (aws/aws-elastic-beanstalk-cli, ebcli/lib/botocoredata/elasticbeanstalk/2010-12-01/service-2.json),
 * whose ConfigurationSettingsDescription has `Tier` after `Description`; `eb health` reads it
 * (ebcli/display/screen.py, draw_banner_info_lines) and fails with KeyError 'Tier' without it.
 * The aws CLI skips an element its model does not name, so adding it changes nothing for us.
 */
function withEbCliMembers(model: ServiceModel): ServiceModel {
  const shape = model.shapes.ConfigurationSettingsDescription;
  if (shape?.members && !shape.members.Tier) {
    const entries = Object.entries(shape.members);
    const at = entries.findIndex(([name]) => name === 'Description') + 1;
    entries.splice(at > 0 ? at : entries.length, 0, ['Tier', { shape: 'EnvironmentTier' }]);
    shape.members = Object.fromEntries(entries);
  }
  return model;
}
