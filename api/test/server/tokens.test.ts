import { describe, expect, it } from 'vitest';
import { codes, useTestServer } from '../support/server.js';

let now = new Date('2030-03-01T22:00:00Z');
const server = useTestServer({ FREE_DAILY_TOKENS: '7' }, { clock: () => now });

const TOKENS = '{ me { tokens { balance daily bonus dailyAllowance resetsAt } } }';
const LEDGER = `query Ledger($first: Int, $after: String) {
  tokenLedger(first: $first, after: $after) {
    edges { cursor node { kind amount balanceAfter reason generationId } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

interface Edge {
  cursor: string;
  node: { kind: string; amount: number; balanceAfter: number; reason: string; generationId: string | null };
}

describe('tokens over GraphQL', () => {
  it("shows the plan's configured allowance and when it tops up", async () => {
    const free = await server().createUser('free-user');
    const plus = await server().createUser('plus-user', { plan: 'PLUS' });
    expect((await server().graphql(TOKENS, { key: free.key })).data?.me.tokens).toEqual({
      balance: 7,
      daily: 7,
      bonus: 0,
      dailyAllowance: 7,
      resetsAt: '2030-03-02T00:00:00.000Z',
    });
    expect((await server().graphql(TOKENS, { key: plus.key })).data?.me.tokens).toMatchObject({ balance: 200, dailyAllowance: 200 });
  });

  it('lets admins grant bonus tokens, and only admins', async () => {
    const { user, key } = await server().createUser('lucky');
    const refused = await server().graphql(`mutation { grantTokens(userId: "${user.id}", amount: 5) { balance } }`, { key });
    expect(codes(refused)).toEqual(['FORBIDDEN']);

    const granted = await server().graphql('mutation { grantTokens(userId: "lucky", amount: 5, reason: "contest") { balance bonus } }', {
      key: server().admin.key,
    });
    expect(granted.data?.grantTokens).toEqual({ balance: 12, bonus: 5 });
    const zero = await server().graphql('mutation { grantTokens(userId: "lucky", amount: 0) { balance } }', { key: server().admin.key });
    expect(codes(zero)).toEqual(['BAD_USER_INPUT']);
  });

  it('tops the daily part back up on a new UTC day, keeping the bonus', async () => {
    const { user, key } = await server().createUser('day-crosser');
    const holder = { userId: user.id, plan: user.plan };
    await server().server.services.tokens.grant(holder, { amount: 3, reason: 'welcome' });
    await server().server.services.tokens.debit(holder, { generationId: 'gen-1', amount: 5, reason: 'image' });
    expect((await server().graphql(TOKENS, { key })).data?.me.tokens).toMatchObject({ balance: 5, daily: 2, bonus: 3 });

    now = new Date('2030-03-02T00:00:01Z');
    try {
      expect((await server().graphql(TOKENS, { key })).data?.me.tokens).toEqual({
        balance: 10,
        daily: 7,
        bonus: 3,
        dailyAllowance: 7,
        resetsAt: '2030-03-03T00:00:00.000Z',
      });
      const ledger = await server().graphql(LEDGER, { key, variables: { first: 1 } });
      expect(ledger.data?.tokenLedger.edges[0].node).toMatchObject({ kind: 'DAILY_TOPUP', amount: 5, balanceAfter: 10 });
    } finally {
      now = new Date('2030-03-01T22:00:00Z');
    }
  });

  it('pages through the ledger newest first, from any edge', async () => {
    const { user, key } = await server().createUser('pager');
    const holder = { userId: user.id, plan: user.plan };
    for (let i = 1; i <= 5; i++) await server().server.services.tokens.grant(holder, { amount: i, reason: `grant ${i}` });
    await server().server.services.tokens.debit(holder, { generationId: 'gen-7', amount: 2, reason: 'image' });
    // DAILY_TOPUP(7), five grants (1..5), one debit: seven entries.

    const all: Edge[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const response = await server().graphql(LEDGER, { key, variables: { first: 3, after } });
      const { edges, pageInfo } = response.data?.tokenLedger as { edges: Edge[]; pageInfo: Record<string, unknown> };
      expect(pageInfo.hasPreviousPage).toBe(after !== null);
      expect(pageInfo.startCursor).toBe(edges[0].cursor);
      expect(pageInfo.endCursor).toBe(edges.at(-1)!.cursor);
      all.push(...edges);
      after = pageInfo.hasNextPage ? (pageInfo.endCursor as string) : null;
      pages++;
    } while (after);
    expect(pages).toBe(3);

    expect(all.map((e) => e.node.kind)).toEqual(['DEBIT', 'GRANT', 'GRANT', 'GRANT', 'GRANT', 'GRANT', 'DAILY_TOPUP']);
    expect(all.map((e) => e.node.reason).slice(1, 6)).toEqual(['grant 5', 'grant 4', 'grant 3', 'grant 2', 'grant 1']);
    expect(all[0].node).toMatchObject({ amount: -2, generationId: 'gen-7', balanceAfter: 7 + 15 - 2 });
    // Oldest first, each balance is the last plus the change: the ledger sums to the balance.
    const oldestFirst = [...all].reverse();
    oldestFirst.reduce((balance, { node }) => {
      expect(node.balanceAfter).toBe(balance + node.amount);
      return node.balanceAfter;
    }, 0);

    // Continuing from any edge's cursor gives exactly the entries after it.
    for (let i = 0; i < all.length; i++) {
      const response = await server().graphql(LEDGER, { key, variables: { first: 2, after: all[i].cursor } });
      const edges = response.data?.tokenLedger.edges as Edge[];
      expect(edges.map((e) => e.node), `after edge ${i}`).toEqual(all.slice(i + 1, i + 3).map((e) => e.node));
      expect(response.data?.tokenLedger.pageInfo.hasNextPage).toBe(i + 3 < all.length);
    }
  });

  it('refuses a bad page size or cursor with BAD_USER_INPUT', async () => {
    const { key } = await server().createUser('picky');
    for (const variables of [{ first: 0 }, { first: 101 }, { first: 5, after: 'not-a-cursor' }]) {
      const response = await server().graphql(LEDGER, { key, variables });
      expect(codes(response), JSON.stringify(variables)).toEqual(['BAD_USER_INPUT']);
    }
    expect(codes(await server().graphql(LEDGER))).toEqual(['UNAUTHENTICATED']);
  });
});
