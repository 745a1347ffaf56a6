import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The example configuration shipped for SN1MA: the seed's Milestone Targets table, as MILESTONES_FILE names it. */
export const SN1MA_MILESTONES_FILE = fileURLToPath(new URL('../../docs/examples/sn1ma-milestones.json', import.meta.url));
/** The same table as MILESTONES takes it. */
export const SN1MA_MILESTONES = readFileSync(SN1MA_MILESTONES_FILE, 'utf8');
/** SN1MA's team as the seed describes it: the product's name and Johannesburg's time (UTC+2 all year). */
export const SN1MA_TEAM = { PRODUCT_NAME: 'SN1MA', TEAM_TIME_ZONE: 'Africa/Johannesburg' } as const;
