import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { createPublisher, PublishError } from '../../src/publisher/index.js';
import {
  dispose,
  ok,
  redisEnv,
  SHARED_BACKENDS,
  startCluster,
  subscribeWs,
  tokenFor,
  user,
  wsClient,
} from '../support/harness.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

const SESSION_EVENTS = `subscription ($id: ID!) { sessionEvents(sessionId: $id) {
  __typename ... on QrCodeUpdated { qrCode } ... on SessionStatusChanged { status phoneNumber } } }`;
const NOTIFICATION_EVENTS = `subscription { notificationEvents {
  __typename ... on NotificationCreated { notification { kind title data } } } }`;

describe('the publisher module', () => {
  it.each(SHARED_BACKENDS)(
    'lets a separate process publish events that reach subscribers on every instance (%s)',
    async (backend) => {
      const [a, b] = await startCluster(2, {}, backend);
      const agent = await tokenFor(user('agent-1', ['agent']));
      const session = (await ok(a!, 'mutation { createSession(name: "Support line") { id } }', {}, agent))
        .createSession;
      const onA = await subscribeWs(a!, wsClient(a!, agent), SESSION_EVENTS, { id: session.id });
      const onB = await subscribeWs(b!, wsClient(b!, agent), SESSION_EVENTS, { id: session.id });
      const bell = await subscribeWs(b!, wsClient(b!, agent), NOTIFICATION_EVENTS);
      const otherOrgBell = await subscribeWs(
        a!,
        wsClient(a!, await tokenFor(user('agent-1', ['agent'], 'org-b'))),
        NOTIFICATION_EVENTS,
      );

      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/publish-events.ts'], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          ...redisEnv(backend, a!.config.redisPrefix),
          ORG_ID: 'org-a',
          SESSION_ID: session.id,
          USER_ID: 'agent-1',
        },
      });
      expect(stdout).toMatch(/^published: session \S+ CONNECTED, notification \S+$/m);

      const expected = [
        { __typename: 'SessionStatusChanged', status: 'QR_REQUIRED', phoneNumber: null },
        { __typename: 'QrCodeUpdated', qrCode: '2@example-qr' },
        { __typename: 'SessionStatusChanged', status: 'CONNECTED', phoneNumber: '+15550100' },
      ];
      expect(await onA.waitForEvents(3)).toEqual(expected);
      expect(await onB.waitForEvents(3)).toEqual(expected);
      expect(await bell.waitForEvents(1)).toEqual([
        {
          __typename: 'NotificationCreated',
          notification: {
            kind: 'session.connected',
            title: 'Support line is connected',
            data: { sessionId: session.id, phoneNumber: '+15550100' },
          },
        },
      ]);
      // State changed too, as a mutation would have changed it.
      const read = await ok(b!, 'query ($id: ID!) { session(id: $id) { status phoneNumber } }', session, agent);
      expect(read.session).toEqual({ status: 'CONNECTED', phoneNumber: '+15550100' });
      expect(otherOrgBell.events).toEqual([]);
    },
  );

  it('is refused nothing its roles allow and allowed nothing they do not', async () => {
    const [server] = await startCluster(1);
    const agent = await tokenFor(user('agent-1', ['agent']));
    const session = (await ok(server!, 'mutation { createSession(name: "s") { id } }', {}, agent)).createSession;
    const service = await createPublisher({
      redisUrl: inject('redisUrl'),
      redisPrefix: server!.config.redisPrefix,
      actor: { id: 'svc', roles: ['service'] },
    });
    dispose(() => service.close());
    const refusal = (promise: Promise<unknown>) =>
      promise.then(
        () => 'allowed',
        (error: unknown) => (error instanceof PublishError ? error.code : `unexpected: ${String(error)}`),
      );

    // Allowed for a service: gateway state and notifications in its organisation.
    await expect(
      service.sessionStatus({ orgId: 'org-a', sessionId: session.id, status: 'CONNECTING' }),
    ).resolves.toMatchObject({
      status: 'CONNECTING',
    });
    await expect(
      service.notification({ orgId: 'org-a', recipientId: 'agent-1', kind: 'info', title: 'Hello' }),
    ).resolves.toMatchObject({ title: 'Hello' });
    // Not allowed: task changes need admin or agent.
    expect(await refusal(service.tasks.create({ orgId: 'org-a', title: 'Call back' }))).toBe('FORBIDDEN');
    // Nothing crosses organisations: the session reads as missing from org-b.
    expect(await refusal(service.sessionStatus({ orgId: 'org-b', sessionId: session.id, status: 'CONNECTED' }))).toBe(
      'NOT_FOUND',
    );
    // Input is validated before anything is stored.
    expect(
      await refusal(service.sessionStatus({ orgId: 'org-a', sessionId: session.id, status: 'ASLEEP' as never })),
    ).toBe('BAD_USER_INPUT');
    expect(
      await refusal(service.notification({ orgId: 'org-a', recipientId: 'agent-1', kind: 'info', title: '' })),
    ).toBe('BAD_USER_INPUT');

    const agentPublisher = await createPublisher({
      redisUrl: inject('redisUrl'),
      redisPrefix: server!.config.redisPrefix,
      actor: { id: 'crm-sync', roles: ['agent'] },
    });
    dispose(() => agentPublisher.close());
    const task = await agentPublisher.tasks.create({ orgId: 'org-a', title: 'Call back', assigneeId: 'agent-1' });
    await agentPublisher.tasks.setProgress({ orgId: 'org-a', taskId: task.id, progress: 50 });
    expect(await refusal(agentPublisher.tasks.setProgress({ orgId: 'org-a', taskId: task.id, progress: 101 }))).toBe(
      'BAD_USER_INPUT',
    );
    // An agent may not report gateway state.
    expect(
      await refusal(agentPublisher.sessionStatus({ orgId: 'org-a', sessionId: session.id, status: 'CONNECTED' })),
    ).toBe('FORBIDDEN');
    const read = await ok(
      server!,
      'query ($id: ID!) { task(id: $id) { progress assigneeId } session(id: "' + session.id + '") { status } }',
      { id: task.id },
      agent,
    );
    expect(read).toEqual({ task: { progress: 50, assigneeId: 'agent-1' }, session: { status: 'CONNECTING' } });
  });

  it('reports message receipts that reach conversation members on other instances, never backwards', async () => {
    const [a, b] = await startCluster(2);
    const alice = await tokenFor(user('alice', ['agent']));
    const { createConversation } = await ok(
      a!,
      'mutation { createConversation(title: "Ops", memberIds: ["bob"]) { id } }',
      {},
      alice,
    );
    const { sendMessage } = await ok(
      a!,
      'mutation ($id: ID!) { sendMessage(conversationId: $id, body: "hi") { id status } }',
      { id: createConversation.id },
      alice,
    );
    expect(sendMessage.status).toBe('QUEUED');
    const bob = await tokenFor(user('bob', ['agent']));
    const events = await subscribeWs(
      b!,
      wsClient(b!, bob),
      `subscription ($id: ID!) { conversationEvents(conversationId: $id) {
        __typename ... on MessageStatusChanged { messageId status } } }`,
      { id: createConversation.id },
    );
    const gateway = await createPublisher({
      redisUrl: inject('redisUrl'),
      redisPrefix: a!.config.redisPrefix,
      actor: { id: 'gateway', roles: ['service'] },
    });
    dispose(() => gateway.close());
    await gateway.messageStatus({ orgId: 'org-a', messageId: sendMessage.id, status: 'DELIVERED' });
    const late = await gateway.messageStatus({ orgId: 'org-a', messageId: sendMessage.id, status: 'SENT' });
    expect(late.status).toBe('DELIVERED');
    await gateway.messageStatus({ orgId: 'org-a', messageId: sendMessage.id, status: 'READ' });
    expect(await events.waitForEvents(2)).toEqual([
      { __typename: 'MessageStatusChanged', messageId: sendMessage.id, status: 'DELIVERED' },
      { __typename: 'MessageStatusChanged', messageId: sendMessage.id, status: 'READ' },
    ]);
    await expect(
      gateway.messageStatus({ orgId: 'org-b', messageId: sendMessage.id, status: 'READ' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('controls campaigns with an admin identity, and a service identity may not', async () => {
    const [a, b] = await startCluster(2);
    const agent = await tokenFor(user('agent-1', ['agent']));
    const session = (await ok(a!, 'mutation { createSession(name: "Line") { id } }', {}, agent)).createSession;
    const options = { redisUrl: inject('redisUrl'), redisPrefix: a!.config.redisPrefix };
    const gateway = await createPublisher({ ...options, actor: { id: 'gateway', roles: ['service'] } });
    const crm = await createPublisher({ ...options, actor: { id: 'crm', roles: ['admin'] } });
    dispose(() => Promise.all([gateway.close(), crm.close()]));
    await gateway.sessionStatus({ orgId: 'org-a', sessionId: session.id, status: 'CONNECTED' });

    const input = { orgId: 'org-a', name: 'Promo', sessionId: session.id, message: 'Hi', recipients: ['+15550101'] };
    await expect(gateway.campaigns.create(input)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const campaign = await crm.campaigns.create(input);
    const dashboard = await subscribeWs(
      b!,
      wsClient(b!, agent),
      'subscription ($id: ID!) { campaignEvents(campaignId: $id) { __typename ... on CampaignStarted { campaignId } } }',
      { id: campaign.id },
    );
    await crm.campaigns.start({ orgId: 'org-a', campaignId: campaign.id });
    await crm.campaigns.pause({ orgId: 'org-a', campaignId: campaign.id });
    await crm.campaigns.cancel({ orgId: 'org-a', campaignId: campaign.id });
    await dashboard.completed;
    expect(dashboard.events.map((event) => event.__typename)).toEqual([
      'CampaignStarted',
      'CampaignPaused',
      'CampaignCancelled',
    ]);
    expect(dashboard.events[0]).toEqual({ __typename: 'CampaignStarted', campaignId: campaign.id });
    await expect(crm.campaigns.resume({ orgId: 'org-a', campaignId: campaign.id })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(crm.campaigns.start({ orgId: 'org-b', campaignId: campaign.id })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('refuses notification data nested deeper than 32 levels with BAD_USER_INPUT', async () => {
    const [server] = await startCluster(1);
    const service = await createPublisher({
      redisUrl: inject('redisUrl'),
      redisPrefix: server!.config.redisPrefix,
      actor: { id: 'svc', roles: ['service'] },
    });
    dispose(() => service.close());
    const nested = (levels: number) => {
      let value: unknown = 'leaf';
      for (let i = 0; i < levels; i++) value = i % 2 ? { a: value } : [value];
      return value;
    };
    const notify = (data: unknown) =>
      service.notification({ orgId: 'org-a', recipientId: 'alice', kind: 'k', title: 't', data });
    for (const levels of [4000, 33]) {
      await expect(notify(nested(levels)), `${levels} levels`).rejects.toMatchObject({
        name: 'PublishError',
        code: 'BAD_USER_INPUT',
        message: 'data may nest at most 32 levels of objects and arrays',
      });
    }
    expect((await notify(nested(32))).data).toEqual(nested(32));
    const alice = await tokenFor(user('alice', []));
    expect((await ok(server!, '{ unreadNotificationCount }', {}, alice)).unreadNotificationCount).toBe(1);
  });

  it('refuses to start without a Redis URL', async () => {
    await expect(createPublisher({ redisUrl: '', actor: { id: 'svc', roles: ['service'] } })).rejects.toBeInstanceOf(
      PublishError,
    );
  });

  it('refuses a Redis URL and cluster nodes together, before connecting to either', async () => {
    const both = createPublisher({
      redisUrl: inject('redisUrl'),
      redisClusterNodes: ['127.0.0.1:1'],
      actor: { id: 'svc', roles: ['service'] },
    });
    await expect(both).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: /redisUrl or redisClusterNodes/ });
  });

  it('refuses an actor a token would not pass: roles are never implied, ids follow the token rules', async () => {
    const [server] = await startCluster(1);
    const options = { redisUrl: inject('redisUrl'), redisPrefix: server!.config.redisPrefix };
    const refused: Record<string, [unknown, RegExp]> = {
      'no actor': [undefined, /^createPublisher: actor must be an object/],
      'roles null': [
        { id: 'svc', roles: null },
        /^createPublisher: actor\.roles must be a list of admin, agent or service/,
      ],
      'roles missing': [{ id: 'svc' }, /^createPublisher: actor\.roles must be a list/],
      'unknown role': [{ id: 'svc', roles: ['root'] }, /^createPublisher: actor\.roles\.0 must be a list/],
      'roles a string': [{ id: 'svc', roles: 'service' }, /^createPublisher: actor\.roles must be a list/],
      'empty id': [{ id: '', roles: ['service'] }, /^createPublisher: actor\.id must be 1 to 128 characters/],
      'id with a blank': [{ id: 'svc one', roles: ['service'] }, /^createPublisher: actor\.id /],
      'id with a newline': [{ id: 'svc\n', roles: ['service'] }, /^createPublisher: actor\.id /],
      'id too long': [{ id: 'x'.repeat(129), roles: ['service'] }, /^createPublisher: actor\.id /],
      'id null': [{ id: null, roles: ['service'] }, /^createPublisher: actor\.id /],
      'name too long': [{ id: 'svc', roles: ['service'], name: 'n'.repeat(201) }, /^createPublisher: actor\.name /],
    };
    for (const [name, [actor, message]] of Object.entries(refused)) {
      const attempt = createPublisher({ ...options, actor: actor as never });
      await expect(attempt, name).rejects.toBeInstanceOf(PublishError);
      await expect(attempt, name).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        message: expect.stringMatching(message),
      });
    }

    // An actor with no roles may do nothing a role is needed for.
    const agent = await tokenFor(user('agent-1', ['agent']));
    const session = (await ok(server!, 'mutation { createSession(name: "s") { id } }', {}, agent)).createSession;
    const powerless = await createPublisher({ ...options, actor: { id: 'nobody', roles: [] } });
    dispose(() => powerless.close());
    await expect(
      powerless.sessionStatus({ orgId: 'org-a', sessionId: session.id, status: 'CONNECTED' }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(
      powerless.notification({ orgId: 'org-a', recipientId: 'agent-1', kind: 'k', title: 't' }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // The organisation of a call follows the token's `org` rules too.
    const service = await createPublisher({ ...options, actor: { id: 'svc', roles: ['service'] } });
    dispose(() => service.close());
    await expect(
      service.notification({ orgId: 'org a', recipientId: 'agent-1', kind: 'k', title: 't' }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(/^notification: orgId /) });
    const read = await ok(server!, 'query ($id: ID!) { session(id: $id) { status } }', session, agent);
    expect(read.session.status).toBe('DISCONNECTED');
  });
});
