import { type ClassType, Field, ObjectType } from 'type-graphql';

/** Relay's page information, shared by every cursor-paginated connection. */
@ObjectType({ description: 'Where a page sits in the whole list (Relay cursor connections).' })
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field()
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
}

/**
 * The base of a Relay connection of `Node`, and its edge type `<name>Edge`; `item` names one node
 * in the cursor's description. Subclass it with @ObjectType to name and describe the connection.
 */
export function ConnectionType<TNode extends object>(Node: ClassType<TNode>, { name, item }: { name: string; item: string }) {
  @ObjectType(`${name}Edge`)
  class EdgeType implements Edge<TNode> {
    @Field({ description: `Pass as \`after\` to continue after this ${item}.` })
    cursor!: string;

    @Field(() => Node)
    node!: TNode;
  }

  // Never in the schema itself: only the subclasses are reached from resolvers.
  @ObjectType()
  abstract class ConnectionBase implements Connection<TNode> {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }
  return ConnectionBase;
}

/** A page of edges as a connection. Forward paging only: a page has pages before it when it starts `after` a cursor. */
export function connection<T>(edges: Edge<T>[], page: { after?: string | null; hasNextPage: boolean }): Connection<T> {
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: Boolean(page.after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
