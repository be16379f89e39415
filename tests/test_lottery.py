"""Lottery tickets: the batched search and analysis equal plain single runs; resume; statistics."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from mnist1d.experiments import lottery
from mnist1d import models, specs, train
from mnist1d.experiments import views

TINY = {"lr": 0.02, "steps": 8, "eval_every": 4}

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_search(frozen):
    torch.set_num_threads(1)
    return lottery.search(frozen, hidden=16, protocol=TINY, trials=(42, 43), rounds=5,
                          dtype=torch.float64)


def test_batched_search_equals_the_plain_loop_of_each_member_float64(frozen, tiny_search):
    history, packed, shapes, members, grid = tiny_search
    assert members == [(42, "magnitude"), (42, "random"), (43, "magnitude"), (43, "random")]
    final = lottery.final_results(history)
    for k, (trial, method) in enumerate(members):
        if k == 3:
            continue                                  # three of four suffice (time)
        plain, plain_masks = lottery.search_plain(frozen, 16, TINY, trial, method, 5, torch.float64)
        mine = final[(final.trial == trial) & (final.method == method)]
        np.testing.assert_allclose(mine.test_loss.values, plain.test_loss.values, rtol=1e-10)
        np.testing.assert_allclose(mine.test_acc.values, plain.test_acc.values, rtol=1e-10)
        for r in range(5):
            for name, shape in shapes.items():
                np.testing.assert_array_equal(lottery.unpack(packed[r][name][k:k + 1], shape)[0],
                                              plain_masks[r][name].numpy())
    # round 0 is the dense network: both methods of a trial are the same run
    r0 = final[final["round"] == 0]
    assert r0[r0.trial == 42].test_loss.nunique() == 1
    # magnitude and random tickets differ after pruning
    r2 = final[(final["round"] == 2) & (final.trial == 42)]
    assert r2.test_loss.nunique() == 2


SETTINGS = [(4, "layer", "fresh"), (None, "layer", "nested"), (0, "tensor", "fresh"),
            (8, "tensor", "nested")]


@pytest.mark.parametrize("score_step,rank_by,random_ticket", SETTINGS)
def test_batched_search_equals_the_plain_loop_under_every_setting_float64(
        frozen, score_step, rank_by, random_ticket):
    settings = dict(score_step=score_step, rank_by=rank_by, random_ticket=random_ticket)
    history, packed, shapes, members, grid = lottery.search(
        frozen, hidden=12, protocol=TINY, trials=(42,), rounds=4, dtype=torch.float64, **settings)
    final = lottery.final_results(history)
    for k, (trial, method) in enumerate(members):
        plain, plain_masks = lottery.search_plain(frozen, 12, TINY, trial, method, 4, torch.float64,
                                                  **settings)
        mine = final[final.method == method]
        np.testing.assert_allclose(mine.test_loss.values, plain.test_loss.values, rtol=1e-10)
        np.testing.assert_allclose(mine.test_acc.values, plain.test_acc.values, rtol=1e-10)
        for r in range(4):
            for name, shape in shapes.items():
                np.testing.assert_array_equal(lottery.unpack(packed[r][name][k:k + 1], shape)[0],
                                              plain_masks[r][name].numpy())
        for r in range(4):                                   # the keep count of every unit
            for unit in lottery.ranking_units(list(shapes), rank_by):
                kept = sum(lottery.unpack(packed[r][n][k:k + 1], shapes[n])[0].sum() for n in unit)
                numel = sum(int(np.prod(shapes[n])) for n in unit)
                assert kept == lottery.keep_count(numel, grid[r], rank_by)


def test_rank_by_layer_keeps_the_notebook_count_over_weight_and_bias_together():
    # one layer: weight (2, 3) and bias (2,), 8 entries; sparsity 0.3 drops int(2.4) = 2
    w = torch.tensor([[[0.5, -0.1, 0.9], [0.05, 2.0, -0.7]]], dtype=torch.float64)
    b = torch.tensor([[0.01, 1.5]], dtype=torch.float64)
    params, ones = {"l.weight": w, "l.bias": b}, {"l.weight": torch.ones_like(w),
                                                  "l.bias": torch.ones_like(b)}
    new = lottery.next_masks(params, ones, [(0, "magnitude")], 1, 0.3, rank_by="layer")
    np.testing.assert_array_equal(new["l.weight"][0].numpy(), [[1, 1, 1], [0, 1, 1]])
    np.testing.assert_array_equal(new["l.bias"][0].numpy(), [0, 1])   # the bias competes too
    # per tensor the same sparsity keeps round(0.7 * 6) = 4 weights and round(0.7 * 2) = 1 bias
    new = lottery.next_masks(params, ones, [(0, "magnitude")], 1, 0.3, rank_by="tensor")
    np.testing.assert_array_equal(new["l.weight"][0].numpy(), [[1, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(new["l.bias"][0].numpy(), [0, 1])
    assert lottery.keep_count(8, 0.3, "layer") == 6 and lottery.keep_count(8, 0.99, "layer") == 1
    assert lottery.keep_count(1000, 0.29, "layer") == 1000 - int(0.29 * 1000)
    assert lottery.ranking_units(["a.weight", "a.bias", "b.weight"], "layer") == \
        [["a.weight", "a.bias"], ["b.weight"]]


def test_fresh_random_tickets_are_not_nested_and_depend_on_the_round_only(frozen):
    history, packed, shapes, members, grid = lottery.search(
        frozen, hidden=16, protocol=TINY, trials=(42,), methods=("random",), rounds=5,
        rank_by="layer", random_ticket="fresh")
    came_back = 0
    for r in range(1, 4):
        prev = lottery.unpack(packed[r]["linear2.weight"], shapes["linear2.weight"])[0]
        now = lottery.unpack(packed[r + 1]["linear2.weight"], shapes["linear2.weight"])[0]
        came_back += int(((now > 0) & (prev == 0)).sum())
    assert came_back > 0                                   # pruned entries came back: not nested
    # round r's fresh random mask is a function of (trial, round, sparsity) alone
    params = {n: torch.zeros((1, *s)) for n, s in shapes.items()}
    masks = {n: torch.zeros((1, *s)) for n, s in shapes.items()}     # everything pruned before
    again = lottery.next_masks(params, masks, [(42, "random")], 3, grid[3], "layer", "fresh")
    for n, shape in shapes.items():
        np.testing.assert_array_equal(again[n][0].numpy(), lottery.unpack(packed[3][n], shape)[0])
    # nested random masks never bring an entry back
    _, nested, *_ = lottery.search(frozen, hidden=16, protocol=TINY, trials=(42,),
                                   methods=("random",), rounds=5, rank_by="layer")
    for r in range(1, 4):
        for n, shape in shapes.items():
            assert np.all(lottery.unpack(nested[r + 1][n], shape) <= lottery.unpack(nested[r][n], shape))


def test_scores_come_from_the_weights_at_score_step(frozen):
    """Round 1's lottery mask of an 8-step round scored at step 3 is the one of a 3-step round
    scored at its last step, and differs from the one scored at step 8."""
    kw = dict(hidden=16, trials=(42,), methods=("magnitude",), rounds=3, dtype=torch.float64,
              rank_by="layer")
    _, at3, shapes, *_ = lottery.search(frozen, protocol=TINY, score_step=3, **kw)
    _, short, *_ = lottery.search(frozen, protocol=dict(TINY, steps=3), **kw)
    _, at8, *_ = lottery.search(frozen, protocol=TINY, **kw)
    for n in shapes:
        np.testing.assert_array_equal(at3[1][n], short[1][n])
    assert any(not np.array_equal(at3[1][n], at8[1][n]) for n in shapes)
    with pytest.raises(ValueError, match="score_step"):
        lottery.search(frozen, protocol=TINY, score_step=9, **kw)
    with pytest.raises(ValueError, match="rank_by"):
        lottery.search(frozen, protocol=TINY, rank_by="unit", **{k: v for k, v in kw.items()
                                                                 if k != "rank_by"})


def test_masks_are_nested_at_the_target_sparsity_and_keep_the_largest_weights(tiny_search):
    history, packed, shapes, members, grid = tiny_search
    np.testing.assert_allclose(grid, np.linspace(0, 1, 5))
    for k in range(len(members)):
        prev = None
        for r in range(5):
            for name, shape in shapes.items():
                m = lottery.unpack(packed[r][name][k:k + 1], shape)[0]
                assert m.sum() == lottery.keep_count(m.size, grid[r])
                if prev is not None:
                    assert np.all(m <= prev[name])              # nested
            prev = {n: lottery.unpack(packed[r][n][k:k + 1], s)[0] for n, s in shapes.items()}
        assert prev["linear1.weight"].sum() == 0                # round 4: 100 % sparse
    # magnitude: the kept weights are the largest of the previous round's trained weights
    params = {"w": torch.tensor([[0.1, -3.0, 0.5, 2.0, -0.2]], dtype=torch.float64)}
    mask = {"w": torch.tensor([[1.0, 1.0, 1.0, 0.0, 1.0]], dtype=torch.float64)}
    new = lottery.next_masks(params, mask, [(0, "magnitude")], 1, 0.6)
    np.testing.assert_array_equal(new["w"][0].numpy(), [0, 1, 1, 0, 0])   # 2.0 is pruned already
    new = lottery.next_masks(params, mask, [(0, "random")], 1, 0.2)
    np.testing.assert_array_equal(new["w"][0].numpy(), mask["w"][0].numpy())
    a = lottery.next_masks(params, mask, [(0, "random")], 1, 0.6)["w"]
    b = lottery.next_masks(params, mask, [(0, "random")], 2, 0.6)["w"]
    c = lottery.next_masks(params, mask, [(0, "random")], 1, 0.6)["w"]
    assert torch.equal(a, c) and a.sum() == 2 and (a <= mask["w"]).all()
    assert lottery.sparsity_grid(100)[91] == pytest.approx(0.9192, abs=1e-4)


def test_killed_search_resumes_at_the_last_finished_round_with_identical_results(frozen, tmp_path):
    kwargs = dict(hidden=12, protocol=TINY, trials=(42,), rounds=4)
    full, packed, *_ = lottery.search(frozen, **kwargs)

    class Killed(Exception):
        pass

    def kill_after_round_1(r):
        if r == 1:
            raise Killed
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Killed):
        lottery.search(frozen, checkpoint_dir=ckpt, on_round=kill_after_round_1, **kwargs)
    assert (ckpt / "state.json").exists()
    rounds_run = []
    resumed, packed2, *_ = lottery.search(frozen, checkpoint_dir=ckpt, on_round=rounds_run.append,
                                          **kwargs)
    assert rounds_run == [2, 3]                   # rounds 0 and 1 were not trained again
    pd.testing.assert_frame_equal(resumed, full)
    for a, b in zip(packed, packed2, strict=True):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])
    # a checkpoint of another setting is not resumed
    other = []
    lottery.search(frozen, checkpoint_dir=ckpt, on_round=other.append,
                   **dict(kwargs, protocol=dict(TINY, lr=0.01)))
    assert other == [0, 1, 2, 3]


def test_mask_store_round_trip(tiny_search, tmp_path):
    history, packed, shapes, members, grid = tiny_search
    path = tmp_path / "masks.npz"
    lottery.save_mask_store(path, packed, shapes, members, grid)
    store = lottery.MaskStore(path)
    assert store.rounds == 5 and store.members == members
    assert store.nearest_round(0.92) == 4 and store.nearest_round(0.7) == 3
    m = store.masks(2, 43, "random")
    for name, shape in shapes.items():
        np.testing.assert_array_equal(m[name], lottery.unpack(packed[2][name][3:4], shape)[0])
    with pytest.raises(KeyError, match="trial 7"):
        store.masks(2, 7, "random")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        lottery.MaskStore(tmp_path / "nope.npz")


def plain_masked_run(frozen, hidden, protocol, seed, mask, view=None):
    """One network: nn.Module, torch.optim.Adam, parameters times the mask in every forward."""
    protocol = specs.protocol_of(protocol)
    x, xt = frozen["x"], frozen["x_test"]
    if view is not None:
        x, xt = view(x), view(xt)
    x, xt = torch.tensor(x, dtype=torch.float64), torch.tensor(xt, dtype=torch.float64)
    y, yt = torch.tensor(frozen["y"]), torch.tensor(frozen["y_test"])
    torch.manual_seed(seed)
    net = models.build(lottery.spec_of(hidden)).double()
    opt = torch.optim.Adam(net.parameters(), lr=protocol["lr"])
    masks = {n: torch.as_tensor(m, dtype=torch.float64) for n, m in mask.items()}

    def logits(inp):
        return torch.func.functional_call(
            net, {n: p * masks[n] for n, p in net.named_parameters()}, (inp,))
    bs = protocol["batch_size"]
    for step in range(protocol["steps"] + 1):
        s = (step * bs) % len(x)
        loss = F.cross_entropy(logits(x[s:s + bs]), y[s:s + bs])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = logits(xt)
    return F.cross_entropy(out, yt).item(), 100.0 * (out.argmax(-1) == yt).double().mean().item()


def test_batched_analysis_members_equal_plain_masked_runs_on_their_views_float64(
        frozen, tiny_search, tmp_path):
    history, packed, shapes, members, grid = tiny_search
    path = tmp_path / "masks.npz"
    lottery.save_mask_store(path, packed, shapes, members, grid)
    store = lottery.MaskStore(path)
    protocol = {"lr": 0.02, "steps": 6, "eval_every": 3, "batch_size": 500}
    hist, round_ = lottery.analyse(frozen, store, 0.5, 16, protocol, trials=(43,), reinit_seed=5,
                                   shuffle_seed=1, dtype=torch.float64)
    grouped, _ = lottery.analyse(frozen, store, 0.5, 16, protocol, trials=(43,), reinit_seed=5,
                                 shuffle_seed=1, group=4, dtype=torch.float64)
    key = ["trial", "condition", "network", "step"]
    pd.testing.assert_frame_equal(grouped.sort_values(key).reset_index(drop=True),
                                  hist.sort_values(key).reset_index(drop=True), rtol=1e-12)
    assert round_ == 2
    summary = lottery.analysis_summary(hist)
    assert len(summary) == 15 and set(summary.condition) == set(lottery.CONDITIONS)
    ones = {n: np.ones(s) for n, s in shapes.items()}
    perm = views.positions_permutation(40, 1)
    cases = [("shuffled", "lottery", 43, store.masks(2, 43, "magnitude"),
              lambda x: views.shuffle_positions(x, perm)),
             ("chunks", "random", 43, store.masks(2, 43, "random"), views.swap_chunks),
             ("flipped", "dense", 43, ones, views.flip),
             ("reinit", "lottery", 5, store.masks(2, 43, "magnitude"), None)]
    for condition, network, seed, mask, view in cases:
        loss, acc = plain_masked_run(frozen, 16, protocol, seed, mask, view)
        row = summary[(summary.condition == condition) & (summary.network == network)].iloc[0]
        assert row.test_loss == pytest.approx(loss, rel=1e-10), (condition, network)
        assert row.test_acc == pytest.approx(acc, rel=1e-10), (condition, network)


def test_fresh_analysis_of_two_trials_equals_plain_runs_with_the_documented_seeds_float64(
        frozen, tiny_search, tmp_path):
    """init fresh: trial i starts from torch seed init_seed + i, its re-initialised condition from
    reinit_seed + i; shuffle notebook: the legacy-stream permutation."""
    history, packed, shapes, members, grid = tiny_search
    path = tmp_path / "masks.npz"
    lottery.save_mask_store(path, packed, shapes, members, grid)
    store = lottery.MaskStore(path)
    protocol = {"lr": 0.02, "steps": 4, "eval_every": 2, "batch_size": 500}
    hist, round_ = lottery.analyse(frozen, store, 0.5, 16, protocol, trials=(42, 43), reinit_seed=3,
                                   shuffle_seed=0, init="fresh", init_seed=7, shuffle="notebook",
                                   conditions=("baseline", "shuffled", "reinit"),
                                   dtype=torch.float64)
    summary = lottery.analysis_summary(hist)
    assert len(summary) == 2 * 3 * 3
    perm = lottery.notebook_permutation(40, 0)
    cases = [(42, "baseline", "dense", 7, None, None),
             (43, "baseline", "lottery", 8, "magnitude", None),
             (43, "shuffled", "random", 8, "random", lambda x: views.shuffle_positions(x, perm)),
             (43, "reinit", "lottery", 4, "magnitude", None)]
    ones = {n: np.ones(s) for n, s in shapes.items()}
    for trial, condition, network, seed, method, view in cases:
        mask = ones if method is None else store.masks(round_, trial, method)
        loss, acc = plain_masked_run(frozen, 16, protocol, seed, mask, view)
        row = summary[(summary.trial == trial) & (summary.condition == condition)
                      & (summary.network == network)].iloc[0]
        assert row.test_loss == pytest.approx(loss, rel=1e-10), (trial, condition, network)
        assert row.test_acc == pytest.approx(acc, rel=1e-10), (trial, condition, network)
    means = lottery.analysis_means(summary)
    assert set(means.trials) == {2} and (means.test_acc_spread >= 0).all()
    text = lottery.analysis_markdown(summary, lottery.adjacency_table(store, round_, (42, 43)),
                                     "test")
    assert "[" in text and "notebook formula" in text and "random ticket's mask" in text


def test_analysis_seeds_follow_the_documented_scheme_and_refuse_repeats():
    assert lottery.analysis_seeds([42, 43], "rewound", 100, 0) == {42: (42, 0), 43: (43, 1)}
    assert lottery.analysis_seeds([42, 43], "fresh", 100, 0) == {42: (100, 0), 43: (101, 1)}
    with pytest.raises(ValueError, match="x.init_seed"):
        lottery.analysis_seeds([42, 43], "fresh", 42, 0, "x.")      # trial 42 rewound in disguise
    with pytest.raises(ValueError, match="reinit_seed"):
        lottery.analysis_seeds([42, 43], "fresh", 100, 100)
    with pytest.raises(ValueError, match="init"):
        lottery.analysis_seeds([42], "rewind")


def test_notebook_shuffle_is_the_legacy_global_stream_permutation():
    state = np.random.get_state()
    try:
        np.random.seed(0)
        expected = np.random.permutation(40)
    finally:
        np.random.set_state(state)
    before = np.random.get_state()[1].copy()
    np.testing.assert_array_equal(lottery.shuffle_permutation(40, 0, "notebook"), expected)
    np.testing.assert_array_equal(np.random.get_state()[1], before)     # global state untouched
    np.testing.assert_array_equal(lottery.shuffle_permutation(40, 0, "generator"),
                                  views.positions_permutation(40, 0))
    assert not np.array_equal(expected, views.positions_permutation(40, 0))
    with pytest.raises(ValueError, match="shuffle"):
        lottery.shuffle_permutation(40, 0, "global")


def test_notebook_adjacency_formula_and_its_bug():
    lot = np.zeros((2, 40))
    lot[0, 0:4] = 1                  # one window of 4, two of 3, three of 2
    lot[1, [0, 1, 2, 10]] = 1
    ran = np.zeros((2, 40))
    ran[0, 3] = 1                    # the random mask keeps position 3 of unit 0 only
    np.testing.assert_allclose(lottery.notebook_adjacency(lot, 2), [3 / 40, 2 / 40])
    np.testing.assert_allclose(lottery.adjacency(lot, 2), [3 / 39, 2 / 39])
    np.testing.assert_allclose(lottery.notebook_adjacency(lot, 4), [1 / 40, 0])
    np.testing.assert_allclose(lottery.notebook_adjacency(lot, 4, last=ran), [1 / 40, 0])
    ran[0, 3] = 0                    # the bug: the window's last factor is the random mask's
    np.testing.assert_allclose(lottery.notebook_adjacency(lot, 4, last=ran), [0, 0])


def test_engine_per_member_inputs_equal_shared_inputs(frozen):
    """train() with x of shape (K, N, in): member k = a run on its own inputs alone."""
    protocol = {"steps": 10, "eval_every": 5}
    flipped = views.apply_view(frozen, views.flip)
    stacked = {"x": np.stack([frozen["x"], flipped["x"]]), "x_test": np.stack([frozen["x_test"],
               flipped["x_test"]]), "y": frozen["y"], "y_test": frozen["y_test"]}
    both, _ = train.train(stacked, "mlp", protocol, seeds=[3, 4], dtype=torch.float64)
    alone, _ = train.train(flipped, "mlp", protocol, seeds=[4], dtype=torch.float64)
    cols = ["train_loss", "test_loss", "train_acc", "test_acc", "batch_loss"]
    np.testing.assert_allclose(both[both.seed == 4][cols].values, alone[cols].values, rtol=1e-10)
    with pytest.raises(ValueError, match="in_order"):
        train.train(stacked, "mlp", dict(protocol, order="reshuffle"), seeds=[3, 4])


def test_adjacency_counts_windows_of_consecutive_kept_inputs():
    m = np.zeros((3, 8))
    m[0, [0, 1, 2, 5]] = 1          # windows of 2: (0,1), (1,2) -> 2 of 7
    m[1, ::2] = 1                   # never two adjacent
    m[2] = 1
    np.testing.assert_allclose(lottery.adjacency(m, 2), [2 / 7, 0, 1])
    np.testing.assert_allclose(lottery.adjacency(m, 3), [1 / 6, 0, 1])
    np.testing.assert_allclose(lottery.adjacency(m, 1), m.mean(1))
    assert list(lottery.unit_order(m)) == [2, 0, 1]
    np.testing.assert_allclose(lottery.chance_adjacency(m, 2), [4 * 3 / 56, 4 * 3 / 56, 1])
    rng = np.random.default_rng(0)         # random placement: adjacency = chance on average
    r = np.stack([rng.permutation(40) < 6 for _ in range(20000)])
    assert lottery.adjacency(r, 2).mean() == pytest.approx(lottery.chance_adjacency(r, 2).mean(),
                                                           rel=0.03)


def test_compiled_search_step_follows_masks_changed_in_place(frozen):
    """The search reuses one (compiled) step for every round and changes the masks in place."""
    kwargs = dict(hidden=8, protocol={"lr": 0.02, "steps": 4, "eval_every": 2}, trials=(1,),
                  methods=("magnitude",), rounds=3, dtype=torch.float64)
    eager, *_ = lottery.search(frozen, **kwargs)
    compiled, *_ = lottery.search(frozen, compile=True, **kwargs)
    cols = ["train_loss", "test_loss", "test_acc"]
    np.testing.assert_allclose(compiled[cols].values, eager[cols].values, rtol=1e-10)


# --- the search and the analysis as one-member jobs: the same numbers, bit for bit ----------

SEGMENT_PROTOCOL = {"lr": 0.02, "steps": 12, "eval_every": 4}


@pytest.mark.parametrize("random_ticket", ["fresh", "nested"])
@pytest.mark.parametrize("together", [False, True], ids=["cpu_pieces", "gpu_pieces"])
def test_search_segments_merge_to_the_one_ensemble_search_exactly_float32(frozen, tmp_path,
                                                                          random_ticket, together):
    """Each (trial, method) member alone (or, in GPU pieces, every trial of a method together),
    its rounds cut into segments (chained through the masks a segment leaves, or independent for
    fresh random tickets), merged in any order: identical to the four-member search, history and
    masks, in float32 (the pipeline's dtype)."""
    trials, methods, rounds = (42, 43), lottery.METHODS, 7
    settings = dict(score_step=8, rank_by="layer", random_ticket=random_ticket)
    whole = lottery.search(frozen, 16, SEGMENT_PROTOCOL, trials, methods, rounds, **settings)
    segments = lottery.search_segments(trials, methods, rounds, random_ticket, analysis_round=4,
                                       rounds_per_job=3, trials_together=together)
    assert all(s["trials"] == ([42, 43] if together else [s["trials"][0]]) for s in segments)
    chained = [s for s in segments if s["after"] is not None]
    assert chained and all(s["method"] == "magnitude" or random_ticket == "nested" for s in chained)
    parts, stores = [], {}
    for seg in segments:
        start = stores[seg["after"]].next_packed() if seg["after"] else None
        history, packed, shapes, members, grid = lottery.search(
            frozen, 16, SEGMENT_PROTOCOL, seg["trials"], (seg["method"],), rounds,
            first_round=seg["first"], stop_round=seg["stop"], start_masks=start, **settings)
        path = tmp_path / f"{random_ticket}_{seg['name']}.npz"
        trained = packed[:seg["stop"] - seg["first"]]
        nxt = packed[-1] if seg["stop"] < rounds else None
        lottery.save_mask_store(path, trained, shapes, members, grid, seg["first"], nxt)
        stores[seg["name"]] = lottery.MaskStore(path)
        parts.append((history, stores[seg["name"]]))
    merged = lottery.merge_segments(parts[::-1] if together else parts, trials, methods, rounds)
    pd.testing.assert_frame_equal(merged[0], whole[0], check_exact=True)
    assert merged[3] == whole[3] and merged[2] == whole[2]
    assert len(merged[1]) == len(whole[1]) == rounds
    for mine, theirs in zip(merged[1], whole[1]):
        for name in theirs:
            np.testing.assert_array_equal(mine[name], theirs[name])
    seg = lottery.segment_with_round(segments, 43, "magnitude", 4)
    assert seg["first"] <= 4 < seg["stop"] and stores[seg["name"]].masks(4, 43, "magnitude")
    with pytest.raises(KeyError, match="round 6"):
        stores[seg["name"]].masks(6, 43, "magnitude")


def test_a_segment_after_round_zero_needs_the_masks_it_continues(frozen):
    with pytest.raises(ValueError, match="start_masks"):
        lottery.search(frozen, 16, SEGMENT_PROTOCOL, (42,), ("magnitude",), 5, first_round=2)
    with pytest.raises(ValueError, match="rounds_per_job"):
        lottery.search_segments((42,), lottery.METHODS, 5, "fresh", 3, 0)


def test_analysis_parts_merge_to_the_one_ensemble_analysis_exactly_float32(frozen, tmp_path):
    history, packed, shapes, members, grid = lottery.search(
        frozen, 16, SEGMENT_PROTOCOL, (42, 43), lottery.METHODS, 5, score_step=8, rank_by="layer",
        random_ticket="fresh")
    lottery.save_mask_store(tmp_path / "m.npz", packed, shapes, members, grid)
    store = lottery.MaskStore(tmp_path / "m.npz")
    kwargs = dict(sparsity=0.7, hidden=16, protocol={"lr": 0.02, "steps": 10, "eval_every": 5,
                                                     "batch_size": 50},
                  trials=(42, 43), init="fresh", init_seed=100, shuffle="notebook")
    whole, round_ = lottery.analyse(frozen, store, **kwargs)
    parts = []
    for trial, network in lottery.analysis_parts((42, 43)):
        mine, r = lottery.analyse(frozen, None if network == "dense" else store, part=(trial, network),
                                  grid=grid, **kwargs)
        assert r == round_
        parts.append(mine)
    pd.testing.assert_frame_equal(lottery.merge_analysis(parts[::-1], (42, 43)), whole,
                                  check_exact=True)
    # in GPU pieces: one part per network kind of both trials, ensembles of up to 150 networks
    config = {"lottery": {"analysis": {"trials": [42, 43]}}, "jobs": {"pieces": "gpu"}}
    parts = [lottery.analyse(frozen, store, part=part, grid=grid,
                             group=lottery.GPU_ANALYSIS_GROUP, **kwargs)[0]
             for part in lottery.analysis_plan(config).values()]
    assert [len(p) for p in parts] == [len(whole) // 3] * 3
    pd.testing.assert_frame_equal(lottery.merge_analysis(parts[::-1], (42, 43)), whole,
                                  check_exact=True)
