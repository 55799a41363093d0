// Where moto's EC2 differs from AWS in ways that matter to a tool finding its resources by
// tag and tearing them down, the front makes it behave as AWS does, after moto confirms
// the delete:
// - moto keeps a deleted resource's tags, so `describe-tags` goes on naming a VPC or a
//   subnet that is gone; AWS forgets them with the resource.
// - moto keeps a deleted subnet's route-table association, so the table cannot be deleted;
//   AWS drops the association with the subnet.

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
};

export function deletedResourceParam(action: string | null): string | undefined {
  return action ? DELETED_BY[action] : undefined;
}

async function ec2(motoPort: number, authorization: string, params: Record<string, string>): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${motoPort}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body: new URLSearchParams({ Version: '2016-11-15', ...params }),
  });
  return res.text();
}

/** DeleteKeyPair may name the key instead of its id; the tags hang on the id. */
export async function keyPairId(motoPort: number, authorization: string, keyName: string): Promise<string | undefined> {
  const xml = await ec2(motoPort, authorization, { Action: 'DescribeKeyPairs', 'KeyName.1': keyName });
  return /<keyPairId>([^<]+)<\/keyPairId>/.exec(xml)?.[1];
}

export async function forgetTags(motoPort: number, authorization: string, resourceId: string): Promise<void> {
  // moto's DeleteTags removes only the keys it is given, so name every one.
  const xml = await ec2(motoPort, authorization, { Action: 'DescribeTags', 'Filter.1.Name': 'resource-id', 'Filter.1.Value.1': resourceId });
  const keys = [...xml.matchAll(/<key>([^<]*)<\/key>/g)].map((m) => m[1]);
  if (!keys.length) return;
  const params: Record<string, string> = { Action: 'DeleteTags', 'ResourceId.1': resourceId };
  keys.forEach((k, i) => (params[`Tag.${i + 1}.Key`] = decodeXml(k)));
  await ec2(motoPort, authorization, params);
}

function decodeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** AWS drops a subnet's route-table associations when the subnet goes; moto must be told. */
export async function dropSubnetAssociations(motoPort: number, authorization: string, subnetId: string): Promise<void> {
  const xml = await ec2(motoPort, authorization, { Action: 'DescribeRouteTables', 'Filter.1.Name': 'association.subnet-id', 'Filter.1.Value.1': subnetId });
  // One association an <item>; keep the ones that name this subnet (never a main one).
  for (const item of xml.split('</item>')) {
    const assoc = /<routeTableAssociationId>([^<]+)<\/routeTableAssociationId>/.exec(item)?.[1];
    if (assoc && item.includes(`<subnetId>${subnetId}</subnetId>`) && !item.includes('<main>true</main>')) {
      await ec2(motoPort, authorization, { Action: 'DisassociateRouteTable', AssociationId: assoc });
    }
  }
}
