"""Find token prefixes shared by many contexts, so their key/value cache is computed once.

The distinct contexts are sorted; the longest common prefix (LCP) of a run of sorted
sequences is the minimum of the adjacent LCPs, so maximal runs whose adjacent LCPs reach
a threshold form groups with a shared prefix, and splitting each group again at a higher
threshold gives nested groups (a compressed trie). A group is kept only if it shares at
least ``min_shared`` more tokens than its parent, and every context keeps at least one
token of its own (the last context token's hidden state scores the continuations).

Callers never say what is shared: a block of demonstrations common to many queries, an
instruction common to all, or nothing at all (each context is then a root-level leaf).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

TokenIds = tuple[int, ...]


@dataclass
class PrefixNode:
    """Contexts sharing ``tokens[:end]``; this node adds ``tokens[start:end]`` to its parent.

    ``leaves`` are indices of contexts whose own remainder starts at ``end``; ``children``
    are nested groups sharing a longer prefix. The root has ``start == end == 0``.
    """

    start: int
    end: int
    leaves: list[int] = field(default_factory=list)
    children: list["PrefixNode"] = field(default_factory=list)

    def segment(self, contexts: Sequence[TokenIds]) -> TokenIds:
        """The tokens this node adds (taken from any context beneath it)."""
        member = self.first_leaf()
        return contexts[member][self.start : self.end]

    def first_leaf(self) -> int:
        if self.leaves:
            return self.leaves[0]
        return self.children[0].first_leaf()

    def all_leaves(self) -> list[int]:
        out = list(self.leaves)
        for child in self.children:
            out.extend(child.all_leaves())
        return out


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def build_prefix_tree(contexts: Sequence[TokenIds], min_shared: int = 16) -> PrefixNode:
    """Group distinct contexts by shared token prefixes (see module docstring).

    ``min_shared`` <= 0 disables sharing: every context becomes a leaf of the root.
    """
    root = PrefixNode(0, 0)
    if not contexts:
        return root
    if min_shared <= 0:
        root.leaves = list(range(len(contexts)))
        return root
    order = sorted(range(len(contexts)), key=lambda i: contexts[i])
    # lcp[j] = LCP(sorted[j-1], sorted[j]); lcp[0] unused
    lcp = [0] + [common_prefix_length(contexts[order[j - 1]], contexts[order[j]]) for j in range(1, len(order))]
    _split(root, order, lcp, 0, len(order), contexts, min_shared)
    return root


def _split(node: PrefixNode, order: list[int], lcp: list[int], lo: int, hi: int,
           contexts: Sequence[TokenIds], min_shared: int) -> None:
    base = node.end
    i = lo
    while i < hi:
        j = i + 1
        while j < hi and lcp[j] >= base + min_shared:
            j += 1
        if j - i == 1:
            node.leaves.append(order[i])
        else:
            shared = min(lcp[i + 1 : j])
            shortest = min(len(contexts[order[k]]) for k in range(i, j))
            end = min(shared, shortest - 1)  # every context keeps >= 1 own token
            if end - base >= min_shared:
                child = PrefixNode(base, end)
                _split(child, order, lcp, i, j, contexts, min_shared)
                node.children.append(child)
            else:
                node.leaves.extend(order[i:j])
        i = j
