// Where moto's EC2 differs from AWS in ways that matter to a tool finding its resources by
// tag and tearing them down, the front makes it behave as AWS does, after moto confirms
// the delete:
// - moto keeps a deleted resource's tags, so `describe-tags` goes on naming a VPC or a
//   subnet that is gone; AWS forgets them with the resource.
// - moto keeps a deleted subnet's route-table association, so the table cannot be deleted;
//   AWS drops the association with the subnet.

import { filter, items, motoEc2 } from './ec2/query.js';

/** The parameter that names what each delete removes. */
const DELETED_BY: Record<string, string> = {
  DeleteVpc: 'VpcId',
  DeleteSubnet: 'SubnetId',
  DeleteSecurityGroup: 'GroupId',
  DeleteInternetGateway: 'InternetGatewayId',
  DeleteRouteTable: 'RouteTableId',
  DeleteNatGateway: 'NatGatewayId',
  ReleaseAddress: 'AllocationId',
  DeleteKeyPair: 'KeyPairId',
  DeleteLaunchTemplate: 'LaunchTemplateId',
};

export function deletedResourceParam(action: string | null): string | undefined {
  return action ? DELETED_BY[action] : undefined;
}

async function ec2(motoPort: number, authorization: string, params: Record<string, string>): Promise<any> {
  return motoEc2(motoPort, authorization)(params);
}

/** DeleteKeyPair may name the key instead of its id; the tags hang on the id. */
export async function keyPairId(motoPort: number, authorization: string, keyName: string): Promise<string | undefined> {
  const answer = await ec2(motoPort, authorization, { Action: 'DescribeKeyPairs', 'KeyName.1': keyName }).catch(() => undefined);
  return items(answer?.keySet)[0]?.keyPairId;
}

/** DeleteLaunchTemplate may name the template instead of its id; the tags hang on the id. */
export async function launchTemplateId(motoPort: number, authorization: string, name: string): Promise<string | undefined> {
  const answer = await ec2(motoPort, authorization, { Action: 'DescribeLaunchTemplates', 'LaunchTemplateName.1': name }).catch(() => undefined);
  return items(answer?.launchTemplates)[0]?.launchTemplateId;
}

export async function forgetTags(motoPort: number, authorization: string, resourceId: string): Promise<void> {
  // moto's DeleteTags removes only the keys it is given, so name every one.
  const answer = await ec2(motoPort, authorization, { Action: 'DescribeTags', ...filter('resource-id', resourceId) });
  const keys = items(answer.tagSet).map((t) => String(t.key ?? ''));
  if (!keys.length) return;
  const params: Record<string, string> = { Action: 'DeleteTags', 'ResourceId.1': resourceId };
  keys.forEach((k, i) => (params[`Tag.${i + 1}.Key`] = k));
  await ec2(motoPort, authorization, params);
}

/** AWS drops a subnet's route-table associations when the subnet goes; moto must be told. */
export async function dropSubnetAssociations(motoPort: number, authorization: string, subnetId: string): Promise<void> {
  const answer = await ec2(motoPort, authorization, { Action: 'DescribeRouteTables', ...filter('association.subnet-id', subnetId) });
  for (const table of items(answer.routeTableSet)) {
    for (const a of items(table.associationSet)) {
      if (a.subnetId === subnetId && a.main !== 'true') await ec2(motoPort, authorization, { Action: 'DisassociateRouteTable', AssociationId: a.routeTableAssociationId });
    }
  }
}
