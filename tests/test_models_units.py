"""Pure parts of the engine: lm-eval tokenisation rules, prefix grouping, packing masks,
stop strings and the result cache — against hand-computed values."""

from __future__ import annotations

import pytest

from taskmix.models.cache import ResultCache, request_key
from taskmix.models.encoding import encode_pair, split_trailing_space, truncate_left
from taskmix.models.generation import cut_at_stop
from taskmix.models.packing import build_batch, pack_row
from taskmix.models.prefix_tree import build_prefix_tree, common_prefix_length


def word_encoder(text: str) -> list[int]:
    """Toy tokenizer: each space-led word is one token (like BPE with leading spaces); ids = ords."""
    out, word = [], ""
    for ch in text:
        if ch == " " and word:
            out.append(hash_word(word))
            word = ""
        word += ch
    if word:
        out.append(hash_word(word))
    return out


def hash_word(w: str) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(w)) % 10007


def test_split_trailing_space():
    assert split_trailing_space("Answer: ", "yes") == ("Answer:", " yes")
    assert split_trailing_space("Q\n\n", "A") == ("Q", "\n\nA")
    assert split_trailing_space("Q", " A") == ("Q", " A")


def test_encode_pair_matches_lm_eval_rules():
    ctx, cont = encode_pair(word_encoder, "the cat ", "sat down", prefix_id=1)
    assert ctx == tuple(word_encoder("the cat"))
    assert cont == tuple(word_encoder("the cat sat down"))[2:]
    assert len(cont) == 2
    # empty context: the prefix token is the context
    assert encode_pair(word_encoder, "", "hi there", prefix_id=1) == ((1,), tuple(word_encoder("hi there")))
    # continuation starting with the prefix token: it becomes the context
    assert encode_pair(lambda s: [1, 5, 6], "", "x", prefix_id=1) == ((1,), (5, 6))


def test_encode_pair_uses_whole_minus_context_tokens():
    # a tokenizer that merges across the boundary: "ab" is one token
    def enc(s):
        return [99 if s[i : i + 2] == "ab" else ord(s[i]) for i in range(0, len(s), 1) if not (i > 0 and s[i - 1 : i + 1] == "ab")]

    ctx, cont = encode_pair(enc, "xa", "b", prefix_id=1)
    assert ctx == (ord("x"), ord("a")) and cont == ()  # whole = [x, ab]: nothing beyond len(ctx)=2


def test_truncate_left():
    assert truncate_left((1, 2, 3, 4), (5, 6), max_length=10) == (1, 2, 3, 4)
    assert truncate_left((1, 2, 3, 4), (5, 6), max_length=4) == (2, 3, 4)
    assert truncate_left((1, 2, 3, 4), (5, 6, 7, 8, 9), max_length=4) == (4,)


def test_common_prefix_length():
    assert common_prefix_length((1, 2, 3), (1, 2, 4)) == 2
    assert common_prefix_length((), (1,)) == 0
    assert common_prefix_length((1, 2), (1, 2)) == 2


def test_prefix_tree_groups_shared_prefixes():
    demos = tuple(range(100, 140))
    ctxs = [demos + (1, 2), demos + (3,), demos + (4, 5, 6), (7, 8, 9), demos + (200,) + tuple(range(20)) + (1,), demos + (200,) + tuple(range(20)) + (2,)]
    root = build_prefix_tree(ctxs, min_shared=16)
    assert root.leaves == [3]
    (group,) = root.children
    assert (group.start, group.end) == (0, 40)
    assert sorted(group.leaves) == [0, 1, 2]
    (nested,) = group.children
    assert (nested.start, nested.end) == (40, 61) and sorted(nested.leaves) == [4, 5]
    assert sorted(root.all_leaves()) == list(range(6))
    assert nested.segment(ctxs) == (200,) + tuple(range(20))


def test_prefix_tree_keeps_one_own_token_and_can_be_disabled():
    ctxs = [tuple(range(30)), tuple(range(30)) + (5,)]  # one context is a prefix of the other
    (group,) = build_prefix_tree(ctxs, 16).children
    assert group.end == 29
    assert build_prefix_tree(ctxs, 0).leaves == [0, 1]
    assert build_prefix_tree(ctxs, 31).leaves == [0, 1]
    assert build_prefix_tree([], 16).leaves == []


def test_pack_row_layout():
    row = pack_row((10, 11, 12, 13), shared=2, candidates=[(20,), (30, 31, 32)])
    assert row.tokens == (12, 13, 30, 31)
    assert row.positions == (2, 3, 4, 5)
    assert row.groups == (0, 0, 2, 2)
    assert row.score_slots == ((1,), (1, 2, 3))
    with pytest.raises(ValueError):
        pack_row((1, 2), shared=2, candidates=[(3,)])


def test_build_batch_tree_mask():
    import torch

    a = pack_row((1, 2), 0, [(5, 6), (7, 8)])  # tokens 1 2 5 7
    b = pack_row((3,), 0, [(9,)])  # tokens 3 (+3 padding)
    ids, pos, mask = build_batch([a, b], past_len=0, dtype=torch.float32)
    assert ids.tolist() == [[1, 2, 5, 7], [3, 0, 0, 0]]
    assert pos.tolist() == [[0, 1, 2, 2], [0, 0, 0, 0]]
    seen = (mask[:, 0] == 0).int().tolist()
    assert seen[0] == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 0, 1]]  # candidates do not see each other
    assert seen[1][0] == [1, 0, 0, 0]  # the real token never sees padding
    assert all(any(r) for r in seen[1])  # padding rows see something (no NaN)
    _, _, with_past = build_batch([b], past_len=3, dtype=torch.float32)
    assert with_past.shape == (1, 1, 1, 4) and (with_past == 0).all()
    _, _, masks = build_batch([a], past_len=0, dtype=torch.float32, sliding_window=2)
    sliding = (masks["sliding_attention"][0, 0] == 0).int().tolist()
    assert sliding == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]]


def test_cut_at_stop():
    assert cut_at_stop("yes\nno", ("\n",)) == "yes"
    assert cut_at_stop("a. b\nc", ("\n", ".")) == "a"
    assert cut_at_stop("abc", ()) == "abc"
    assert cut_at_stop("abc", ("",)) == "abc"


def test_request_key_is_stable_and_distinct():
    # pinned: a changed key would orphan every on-disk cache
    assert request_key("ll", "a", "b") == "006fad740ba4930008dcf27d8b1a792f9b51c282784d19c4d448bb9e68f509da"
    assert request_key("ll", "a", "b") != request_key("ll", "ab", "")
    assert request_key("ll", "a", "b") != request_key("gen", "a", "b")


def test_result_cache_roundtrip(tmp_path):
    cache = ResultCache(tmp_path / "c.sqlite")
    cache.put_many("fp1", [("k1", [-1.5, 2, True]), ("k2", [-0.5, 1, False])])
    assert cache.get_many("fp1", ["k1", "k3"]) == {"k1": [-1.5, 2, True]}
    assert cache.get_many("fp2", ["k1"]) == {}
    cache.close()
    assert ResultCache(tmp_path / "c.sqlite").get_many("fp1", ["k2"]) == {"k2": [-0.5, 1, False]}


def _open_and_write(path: str, start: float, results) -> None:
    import time

    while time.time() < start:  # every process opens the new file at the same moment
        pass
    try:
        ResultCache(path).put_many("fp", [("k", 1)])
        results.put("ok")
    except Exception as e:  # noqa: BLE001 - the test reports what went wrong
        results.put(str(e))


def test_processes_opening_a_new_cache_file_together_all_succeed(tmp_path):
    """Switching a new sqlite file to WAL can answer "locked" at once (no busy wait); the
    cache retries. Before the retry, about one round in five failed (a distributed eval's rank
    then stopped with exit 2)."""
    import multiprocessing
    import time

    ctx = multiprocessing.get_context("fork")
    for round_ in range(25):
        path, results = str(tmp_path / f"c{round_}.sqlite"), ctx.Queue()
        start = time.time() + 0.15
        procs = [ctx.Process(target=_open_and_write, args=(path, start, results)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
        assert [results.get(timeout=5) for _ in procs] == ["ok"] * 3, round_
