import { describe, expect, it } from 'vitest';
import { adminToken } from '../admin/support.js';
import { startTestServer, subscribeWs, tokenFor, user, wsClient } from '../support/harness.js';
import { browserSuite, hasChromium, launch } from './browser.js';

const OWN_EVENTS = 'subscription { notificationEvents { __typename } }';

describe.skipIf(!hasChromium)(browserSuite('the status page in a browser'), () => {
  it('shows connections come and go, and disconnects a user (4403)', { timeout: 90_000 }, async () => {
    const server = await startTestServer({ env: { STATUS_INTERVAL_MS: '300' } });
    const page = await (await (await launch()).newContext()).newPage();
    const refused: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') refused.push(message.text());
    });
    const response = await page.goto(`${server.url}/status`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");

    // The operator pastes an admin token once.
    await page.locator('#token').fill(await adminToken());
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.locator('#state').innerText(), { timeout: 10_000 }).toBe('Live');
    const row = (userId: string) => page.locator(`#users tbody tr[data-user-id="${userId}"]`);
    await expect.poll(() => row('admin-of-org-a').count(), { timeout: 10_000 }).toBe(1);

    // A client connects: its row appears, with its subscription; it leaves: the row goes.
    const visitor = wsClient(server, await tokenFor(user('visitor-1')));
    const subscription = await subscribeWs(server, visitor, OWN_EVENTS);
    await expect.poll(() => row('visitor-1').count(), { timeout: 10_000 }).toBe(1);
    expect(await row('visitor-1').innerText()).toContain('WEBSOCKET');
    await expect.poll(() => page.locator('#total-connections').innerText()).toBe('2');
    subscription.stop();
    await visitor.dispose();
    await expect.poll(() => row('visitor-1').count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => page.locator('#total-connections').innerText()).toBe('1');

    // Another user is disconnected from the page: their client sees 4403.
    let closedWith: number | undefined;
    const target = wsClient(server, await tokenFor(user('target-1')), {
      on: { closed: (event) => (closedWith = (event as { code: number }).code) },
    });
    await subscribeWs(server, target, OWN_EVENTS);
    await expect.poll(() => row('target-1').count(), { timeout: 10_000 }).toBe(1);
    await row('target-1').getByRole('button', { name: 'Disconnect' }).click();
    await expect.poll(() => closedWith, { timeout: 10_000 }).toBe(4403);
    await expect
      .poll(() => page.locator('#action-result').innerText(), { timeout: 10_000 })
      .toBe('Disconnected target-1: 1 connection(s) closed.');
    await expect.poll(() => row('target-1').count(), { timeout: 10_000 }).toBe(0);
    // Nothing was refused by the page's Content-Security-Policy.
    expect(refused.filter((text) => text.includes('Content Security Policy'))).toEqual([]);
  });

  it('tells a non-admin token apart', { timeout: 60_000 }, async () => {
    const server = await startTestServer();
    const page = await (await (await launch()).newContext()).newPage();
    await page.goto(`${server.url}/status`);
    await page.locator('#token').fill(`Bearer ${await tokenFor(user('agent-9'))}`);
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect
      .poll(() => page.locator('#state').innerText(), { timeout: 10_000 })
      .toBe('This token has no admin role: the status page needs one.');
  });
});
