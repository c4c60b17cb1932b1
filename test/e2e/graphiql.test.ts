import { describe, expect, it } from 'vitest';
import { ok, startTestServer, tokenFor, user } from '../support/harness.js';
import { browserSuite, hasChromium, launch } from './browser.js';

describe.skipIf(!hasChromium)(browserSuite('GraphiQL in a browser'), () => {
  it('lets a person paste a token, subscribe, and watch events arrive', { timeout: 60_000 }, async () => {
    const server = await startTestServer();
    const agent = await tokenFor(user('agent-1', ['agent']));
    const service = await tokenFor(user('gateway', ['service']));
    const { createSession } = await ok(server, 'mutation { createSession(name: "Phone") { id } }', {}, agent);

    // Opened at http://localhost:PORT, as a person would type it: the listen address's loopback name.
    const pageUrl = server.url.replace('127.0.0.1', 'localhost');
    const context = await (await launch()).newContext();
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: pageUrl });
    const page = await context.newPage();
    const subscription = `subscription { sessionEvents(sessionId: "${createSession.id}") { __typename ... on QrCodeUpdated { qrCode } } }`;
    await page.goto(`${pageUrl}/graphql?query=${encodeURIComponent(subscription)}`);

    // Paste the token into the Headers tab, as the README says.
    await page.getByText('Headers', { exact: true }).click();
    const headers = page.locator('.graphiql-editor-tool .graphiql-editor:visible').last();
    await headers.click();
    await page.evaluate(
      (text) => navigator.clipboard.writeText(text),
      JSON.stringify({ Authorization: `Bearer ${agent}` }),
    );
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('ControlOrMeta+V');

    await page.locator('.graphiql-execute-button').click();
    await expect.poll(async () => (await fetch(`${server.url}/health`).then((r) => r.json())).subscriptions).toBe(1);

    await ok(
      server,
      'mutation ($id: ID!) { reportSessionStatus(input: { sessionId: $id, status: QR_REQUIRED, qrCode: "qr-in-graphiql" }) { id } }',
      createSession,
      service,
    );
    await expect
      .poll(() => page.locator('.graphiql-response').innerText(), { timeout: 10_000 })
      .toContain('qr-in-graphiql');
    expect(await page.locator('.graphiql-response').innerText()).toContain('QrCodeUpdated');
  });
});
