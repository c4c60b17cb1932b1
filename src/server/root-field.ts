import { getOperationAST, Kind, type DocumentNode, type SelectionSetNode } from 'graphql';

/**
 * The root field an operation selects (`conversationEvents` for a
 * conversation subscription), as a metric label: the field's name, never
 * its alias or arguments, so the label takes only as many values as the
 * schema has root fields. A validated subscription selects exactly one,
 * possibly through fragments.
 */
export function rootFieldOf(args: { document: DocumentNode; operationName?: string | null }): string {
  const operation = getOperationAST(args.document, args.operationName);
  return (operation && firstField(args.document, operation.selectionSet, 0)) ?? 'unknown';
}

/** Fragments are followed this deep at most (a validated document has no cycles; this bounds a crafted one). */
const MAX_FRAGMENT_DEPTH = 10;

function firstField(document: DocumentNode, selectionSet: SelectionSetNode, depth: number): string | undefined {
  const selection = selectionSet.selections[0];
  if (!selection || depth > MAX_FRAGMENT_DEPTH) return undefined;
  if (selection.kind === Kind.FIELD) return selection.name.value;
  if (selection.kind === Kind.INLINE_FRAGMENT) return firstField(document, selection.selectionSet, depth + 1);
  const fragment = document.definitions.find(
    (definition) => definition.kind === Kind.FRAGMENT_DEFINITION && definition.name.value === selection.name.value,
  );
  return fragment?.kind === Kind.FRAGMENT_DEFINITION
    ? firstField(document, fragment.selectionSet, depth + 1)
    : undefined;
}
