// Iterative k-core on a bipartite user–item graph: peel users/items under their minimum degree until none is left.

/**
 * users[e], items[e] are the endpoints of edge e (distinct pairs, dense ids < numUsers/numItems).
 * Returns keep[e] = 1 for the edges of the largest subgraph where every user has >= userMin edges
 * and every item has >= itemMin edges (a minimum <= 1 means no constraint beyond having an edge).
 */
export function kCore(
  users: Int32Array,
  items: Int32Array,
  numUsers: number,
  numItems: number,
  userMin: number,
  itemMin: number,
): Uint8Array {
  const m = users.length;
  if (items.length !== m) throw new RangeError(`kCore (src/cllm4rec/data/kcore.ts): users has ${m} edges but items has ${items.length}`);
  const keep = new Uint8Array(m).fill(1);
  const userDeg = new Int32Array(numUsers);
  const itemDeg = new Int32Array(numItems);
  for (let e = 0; e < m; e++) {
    userDeg[users[e]]++;
    itemDeg[items[e]]++;
  }
  // CSR edge lists per user and per item, so each removal touches only its own edges.
  const csr = (ends: Int32Array, deg: Int32Array, n: number): [Int32Array, Int32Array] => {
    const start = new Int32Array(n + 1);
    for (let v = 0; v < n; v++) start[v + 1] = start[v] + deg[v];
    const fill = start.slice(0, n);
    const edges = new Int32Array(m);
    for (let e = 0; e < m; e++) edges[fill[ends[e]]++] = e;
    return [start, edges];
  };
  const [userStart, userEdges] = csr(users, userDeg, numUsers);
  const [itemStart, itemEdges] = csr(items, itemDeg, numItems);

  const userGone = new Uint8Array(numUsers);
  const itemGone = new Uint8Array(numItems);
  // Queue entries: v >= 0 is user v, v < 0 is item (-v - 1).
  const queue: number[] = [];
  for (let u = 0; u < numUsers; u++)
    if (userDeg[u] > 0 && userDeg[u] < userMin) {
      userGone[u] = 1;
      queue.push(u);
    }
  for (let i = 0; i < numItems; i++)
    if (itemDeg[i] > 0 && itemDeg[i] < itemMin) {
      itemGone[i] = 1;
      queue.push(-i - 1);
    }
  while (queue.length > 0) {
    const v = queue.pop()!;
    const isUser = v >= 0;
    const node = isUser ? v : -v - 1;
    const start = isUser ? userStart : itemStart;
    const edges = isUser ? userEdges : itemEdges;
    for (let k = start[node]; k < start[node + 1]; k++) {
      const e = edges[k];
      if (keep[e] === 0) continue;
      keep[e] = 0;
      if (isUser) {
        const i = items[e];
        if (--itemDeg[i] < itemMin && itemGone[i] === 0) {
          itemGone[i] = 1;
          queue.push(-i - 1);
        }
      } else {
        const u = users[e];
        if (--userDeg[u] < userMin && userGone[u] === 0) {
          userGone[u] = 1;
          queue.push(u);
        }
      }
    }
  }
  return keep;
}
