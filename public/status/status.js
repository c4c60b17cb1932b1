/* global document, localStorage, location, graphqlWs */
/*
 * The operators' status page (served by src/status/page.ts): one GraphQL
 * subscription, `deploymentStatus`, over this server's own WebSocket, with
 * the admin token pasted into the page. Plain browser JavaScript, no build
 * step; everything shown is written with textContent, never as HTML.
 */
'use strict';

(() => {
  const TOKEN_KEY = 'realtime-graphql:status:token';
  const HISTORY_MS = 10 * 60 * 1000;
  const FEED = `subscription DeploymentStatus {
    deploymentStatus {
      occurredAt connections subscriptions deliveriesPerSecond slowConsumers
      instances { instance seenAt connections subscriptions deliveriesPerSecond slowConsumers }
      openConnections { id userId transport instance openedAt subscriptions }
    }
  }`;
  const DISCONNECT = `mutation DisconnectUser($userId: ID!) {
    disconnectUser(userId: $userId, reason: "status page")
  }`;

  const byId = (id) => document.getElementById(id);
  const history = [];
  let client;
  let stopFeed;
  let latest;
  let shownUsers = '';

  function setState(text, isError = false) {
    byId('state').textContent = text;
    byId('state').classList.toggle('error', isError);
  }

  function bare(token) {
    return token.trim().replace(/^bearer\s+/i, '');
  }

  function describeError(error) {
    if (error && typeof error.code === 'number') {
      return error.code === 4403
        ? 'The token was refused, has expired or was revoked: paste a fresh admin token.'
        : `The connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''}).`;
    }
    const first = Array.isArray(error) ? error[0] : error;
    const code = first && first.extensions && first.extensions.code;
    if (code === 'FORBIDDEN') return 'This token has no admin role: the status page needs one.';
    return (first && first.message) || 'The status feed failed.';
  }

  function stop() {
    if (stopFeed) stopFeed();
    if (client) void client.dispose();
    stopFeed = undefined;
    client = undefined;
  }

  function start(token) {
    stop();
    history.length = 0;
    shownUsers = '';
    setState('Connecting…');
    client = graphqlWs.createClient({
      url: `${location.origin.replace(/^http/, 'ws')}/graphql`,
      connectionParams: () => ({ authorization: `Bearer ${token}` }),
      lazy: false,
      retryAttempts: Infinity,
      // A refused or expired token will not get better by retrying.
      shouldRetry: (event) => !(event && event.code === 4403),
      onNonLazyError: () => {},
      on: {
        connected: () => setState('Live'),
        closed: (event) => {
          if (event && event.code === 4403) setState(describeError(event), true);
          else if (client) setState('Reconnecting…');
        },
      },
    });
    // A refused subscription arrives as a result with errors, then completes: its error stays shown.
    let failed = false;
    const fail = (error) => {
      failed = true;
      setState(describeError(error), true);
    };
    stopFeed = client.subscribe(
      { query: FEED },
      {
        next: (result) => {
          if (result.errors) return fail(result.errors);
          render(result.data.deploymentStatus);
        },
        error: fail,
        complete: () => {
          if (!failed) setState('The status feed ended (access lost?): reconnect with a fresh token.', true);
        },
      },
    );
    byId('dashboard').hidden = false;
  }

  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = String(text);
    if (className) td.className = className;
    row.append(td);
    return td;
  }

  function time(iso) {
    return new Date(iso).toLocaleTimeString();
  }

  function rate(value) {
    return value === null || value === undefined ? '–' : value.toFixed(1);
  }

  function chart(id, values) {
    const line = byId(id).querySelector('polyline');
    const max = Math.max(1, ...values);
    const step = values.length > 1 ? 300 / (values.length - 1) : 0;
    line.setAttribute(
      'points',
      values.map((value, index) => `${(index * step).toFixed(1)},${(58 - (value / max) * 56).toFixed(1)}`).join(' '),
    );
  }

  function render(status) {
    latest = status;
    const now = Date.parse(status.occurredAt);
    history.push({ at: now, ...status });
    while (history.length > 0 && now - history[0].at > HISTORY_MS) history.shift();

    byId('total-connections').textContent = String(status.connections);
    byId('total-subscriptions').textContent = String(status.subscriptions);
    byId('total-deliveries').textContent = rate(status.deliveriesPerSecond);
    byId('total-slow').textContent = String(status.slowConsumers);
    chart(
      'chart-connections',
      history.map((point) => point.connections),
    );
    chart(
      'chart-subscriptions',
      history.map((point) => point.subscriptions),
    );
    chart(
      'chart-deliveries',
      history.map((point) => point.deliveriesPerSecond),
    );
    chart(
      'chart-slow',
      history.map((point) => point.slowConsumers),
    );

    const instances = byId('instances').querySelector('tbody');
    instances.replaceChildren(
      ...status.instances.map((instance) => {
        const row = document.createElement('tr');
        cell(row, instance.instance, 'id');
        cell(row, instance.connections);
        cell(row, instance.subscriptions);
        cell(row, rate(instance.deliveriesPerSecond));
        cell(row, instance.slowConsumers);
        cell(row, time(instance.seenAt));
        return row;
      }),
    );
    renderUsers();
  }

  /** The open connections grouped by user, filtered; redrawn only when they change. */
  function renderUsers() {
    if (!latest) return;
    const filter = byId('user-filter').value.trim();
    const users = new Map();
    for (const connection of latest.openConnections) {
      if (filter && !connection.userId.includes(filter)) continue;
      const user = users.get(connection.userId) ?? { connections: [], subscriptions: 0 };
      user.connections.push(connection);
      user.subscriptions += connection.subscriptions;
      users.set(connection.userId, user);
    }
    const key = JSON.stringify([...users].map(([id, user]) => [id, user.connections, user.subscriptions]));
    if (key === shownUsers) return;
    shownUsers = key;
    byId('users')
      .querySelector('tbody')
      .replaceChildren(
        ...[...users].map(([userId, user]) => {
          const row = document.createElement('tr');
          row.dataset.userId = userId;
          cell(row, userId, 'id');
          cell(row, user.connections.length);
          cell(row, user.subscriptions);
          cell(row, [...new Set(user.connections.map((connection) => connection.transport))].join(', '));
          cell(row, new Set(user.connections.map((connection) => connection.instance)).size);
          cell(row, time(user.connections[0].openedAt));
          const button = document.createElement('button');
          button.type = 'button';
          button.className = 'disconnect';
          button.textContent = 'Disconnect';
          button.addEventListener('click', () => disconnectUser(userId, button));
          cell(row, '').append(button);
          return row;
        }),
      );
  }

  function disconnectUser(userId, button) {
    if (!client) return;
    button.disabled = true;
    const result = byId('action-result');
    client.subscribe(
      { query: DISCONNECT, variables: { userId } },
      {
        next: (answer) => {
          result.textContent = answer.errors
            ? `Disconnecting ${userId} failed: ${describeError(answer.errors)}`
            : `Disconnected ${userId}: ${answer.data.disconnectUser} connection(s) closed.`;
        },
        error: (error) => {
          result.textContent = `Disconnecting ${userId} failed: ${describeError(error)}`;
          button.disabled = false;
        },
        complete: () => {},
      },
    );
  }

  byId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const token = bare(byId('token').value);
    if (!token) return setState('Paste an admin token first.', true);
    localStorage.setItem(TOKEN_KEY, token);
    byId('token').value = '';
    start(token);
  });
  byId('forget').addEventListener('click', () => {
    localStorage.removeItem(TOKEN_KEY);
    stop();
    byId('dashboard').hidden = true;
    setState('Not connected: paste an admin token.');
  });
  byId('user-filter').addEventListener('input', () => {
    shownUsers = '';
    renderUsers();
  });

  const saved = localStorage.getItem(TOKEN_KEY);
  if (saved) start(saved);
})();
