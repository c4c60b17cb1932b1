import { randomUUID } from 'node:crypto';
import { user } from '../../support/harness.js';
import type { Attempt, AttackerKind, Fixtures, World } from './types.js';

const FIELDS =
  'id name sessionId message status total sent delivered failed lastError createdBy createdAt updatedAt startedAt finishedAt';

/**
 * A campaign of the owner's organisation with a secret name and message, on
 * the owner's connected session; `status` puts it there first. No worker
 * runs in these servers, so a started campaign stays as it is.
 */
async function organisationsCampaign(world: World, status: 'DRAFT' | 'RUNNING' | 'PAUSED' = 'DRAFT') {
  const name = `secret-name-${randomUUID()}`;
  const message = `secret-message-${randomUUID()}`;
  const session = await world.ok('mutation { createSession(name: "Campaign phone") { id } }', {}, world.owner);
  const sessionId = session.createSession.id as string;
  await world.ok(
    'mutation ($input: SessionStatusReport!) { reportSessionStatus(input: $input) { id } }',
    { input: { sessionId, status: 'CONNECTED' } },
    user('gateway', ['service']),
  );
  const created = await world.ok(
    'mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) { id } }',
    { input: { name, message, sessionId, recipients: ['+15550100001', '+15550100002'] } },
    world.owner,
  );
  const id = created.createCampaign.id as string;
  const act = (mutation: string) =>
    world.ok(`mutation ($id: ID!) { ${mutation}(id: $id) { id } }`, { id }, world.owner);
  if (status !== 'DRAFT') await act('startCampaign');
  if (status === 'PAUSED') await act('pauseCampaign');
  const admin = user('org-admin', ['admin']);
  return {
    id,
    sessionId,
    secrets: [name, message],
    /** Every campaign of the organisation, as its admin sees them. */
    snapshot: async () => (await world.ok(`{ campaigns { ${FIELDS} } }`, {}, admin)).campaigns,
    /** The owner starts the draft: one CampaignStarted. */
    trigger: async () => void (await act('startCampaign')),
  };
}

/**
 * Campaigns: any member of the organisation may read them and watch their
 * events; changing them needs `admin` or `agent`. Another organisation
 * reads them as missing.
 */
const member = user('member-1', []);

/** A status change: NOT_FOUND for another organisation, FORBIDDEN for a member without the role. */
const change =
  (mutation: string, status: 'DRAFT' | 'RUNNING' | 'PAUSED') =>
  async (world: World): Promise<Attempt> => {
    const campaign = await organisationsCampaign(world, status);
    return {
      query: `mutation ($id: ID!) { ${mutation}(id: $id) { ${FIELDS} } }`,
      variables: { id: campaign.id },
      outcome: 'denied',
      ...campaign,
    };
  };

/** A read: missing to another organisation, allowed to any member. */
const read =
  (query: string, variables: (id: string) => Record<string, unknown>, foreign: Attempt['outcome'] = 'denied') =>
  async (world: World, kind: AttackerKind): Promise<Attempt> => {
    const campaign = await organisationsCampaign(world);
    return {
      query,
      variables: variables(campaign.id),
      outcome: kind === 'foreignOrg' ? foreign : 'allowed',
      ...campaign,
      witness: world.owner,
    };
  };

export const fixtures: Fixtures = {
  'Query.campaign': {
    sameOrgWithoutRole: member,
    arrange: read(`query ($id: ID!) { campaign(id: $id) { ${FIELDS} } }`, (id) => ({ id })),
  },
  'Query.campaigns': {
    sameOrgWithoutRole: member,
    arrange: read(`{ campaigns { ${FIELDS} } }`, () => ({}), 'own'),
  },
  'Mutation.createCampaign': {
    sameOrgWithoutRole: member,
    async arrange(world) {
      const campaign = await organisationsCampaign(world);
      // On the owner's session: missing to another organisation, forbidden without the role.
      return {
        query: `mutation ($input: CreateCampaignInput!) { createCampaign(input: $input) { ${FIELDS} } }`,
        variables: {
          input: { name: 'planted', message: 'planted', sessionId: campaign.sessionId, recipients: ['+15550100009'] },
        },
        outcome: 'denied',
        ...campaign,
      };
    },
  },
  'Mutation.startCampaign': { sameOrgWithoutRole: member, arrange: change('startCampaign', 'DRAFT') },
  'Mutation.pauseCampaign': { sameOrgWithoutRole: member, arrange: change('pauseCampaign', 'RUNNING') },
  'Mutation.resumeCampaign': { sameOrgWithoutRole: member, arrange: change('resumeCampaign', 'PAUSED') },
  'Mutation.cancelCampaign': { sameOrgWithoutRole: member, arrange: change('cancelCampaign', 'RUNNING') },
  'Subscription.campaignEvents': {
    sameOrgWithoutRole: member,
    arrange: read(
      `subscription ($campaignId: ID!) {
        campaignEvents(campaignId: $campaignId) {
          __typename
          ... on CampaignStarted { campaignId occurredAt }
        }
      }`,
      (id) => ({ campaignId: id }),
    ),
  },
};
