import { Aws, CfnRule, Fn, Stack, Token } from 'aws-cdk-lib';

/**
 * Regions where the RDS Data API does not serve Aurora PostgreSQL (Serverless v2 or provisioned): Asia Pacific
 * (Hyderabad), (Melbourne) and (New Zealand), "Not available" for every engine version on
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.Aurora_Fea_Regions_DB-eng.Feature.Data_API.html.
 */
export const REGIONS_WITHOUT_DATA_API: Readonly<Record<string, string>> = {
  'ap-south-2': 'Asia Pacific (Hyderabad)',
  'ap-southeast-4': 'Asia Pacific (Melbourne)',
  'ap-southeast-6': 'Asia Pacific (New Zealand)',
};

/** A deployment the Data API cannot serve: said before anything is created, instead of by the migration trigger at the end. */
export class UnsupportedRegionError extends Error {
  override name = 'UnsupportedRegionError';
}

const refusal = (where: string) =>
  `days-since reaches Aurora through the RDS Data API, which ${where} does not offer for Aurora PostgreSQL; deploy the stack to another Region`;

/**
 * Refuses a Region without the Data API: at synth when the stack names its Region, and otherwise (the stack is
 * environment-agnostic, so `cdk synth` stays offline) with a template rule CloudFormation checks before it creates or
 * updates any resource (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html).
 */
export function refuseRegionsWithoutDataApi(stack: Stack): CfnRule {
  const named = REGIONS_WITHOUT_DATA_API[stack.region];
  if (!Token.isUnresolved(stack.region) && named) throw new UnsupportedRegionError(`${refusal(`${named} (${stack.region})`)}.`);
  return new CfnRule(stack, 'DataApiRegion', {
    assertions: [
      {
        assert: Fn.conditionNot(Fn.conditionContains(Object.keys(REGIONS_WITHOUT_DATA_API), Aws.REGION)),
        assertDescription: `${refusal(`this Region (one of ${Object.values(REGIONS_WITHOUT_DATA_API).join(', ')})`)}.`,
      },
    ],
  });
}
