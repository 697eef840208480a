"""The active-matting policy: shapes, the paper's sizes, and the sign of the policy gradient."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mattebox.active.environment import Step, corner_for  # noqa: E402
from mattebox.active.policy import (  # noqa: E402
    PAPER_CONFIG,
    PolicyConfig,
    build_policy,
    matte_patches,
)
from mattebox.active.reinforce import learning_rate, reinforce_loss, run_episodes, TrainConfig  # noqa: E402



@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks: one thread is fastest, and on a busy machine threads only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = PolicyConfig(name="tiny", image_size=32, feature_blocks=((4, 1), (8, 1)), feature_pool=2,
                    feature_dim=16, hidden_size=16, patch_size=8, patch_blocks=((4, 1),), omega=0.2)


def test_paper_config_has_the_sizes_of_section_2_2():
    with torch.device("meta"):
        policy = build_policy("paper")
    assert policy.extract.classifier[-2].out_features == 1000  # g0: 1 x 1000
    assert policy.encode.fc[0].out_features == 1000  # g_i: 1 x 1000
    assert policy.rnn.hidden_size == 128  # v_i: 128-d
    assert PAPER_CONFIG.patch_size == 75 and PAPER_CONFIG.image_size == 400
    convs = [m for m in policy.extract.features if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13  # VGG16: 13 convolutions + 3 fully connected layers
    assert len([m for m in policy.extract.classifier if isinstance(m, torch.nn.Linear)]) == 3


def test_small_policy_runs_a_step_and_is_small():
    policy = build_policy("small")
    assert sum(p.numel() for p in policy.parameters()) * 4 < 20e6  # < 20 MB as float32
    state = policy.begin(policy.image_tensor(np.random.default_rng(0).random((64, 80, 3))))
    location, baseline = policy.head(state)
    assert location.shape == (1, 2) and baseline.shape == (1,)
    state = policy.observe(state, location, torch.rand(1, 1, 100, 100))
    assert state.v.shape == (1, 128)


def test_matte_patch_is_centred_on_the_region():
    config = PolicyConfig(patch_size=9, patch_extent=0.25, region_extent=0.0)
    ramp = torch.linspace(0, 1, 101).view(1, 1, 1, 101).expand(1, 1, 101, 101).contiguous()
    patch = matte_patches(ramp, torch.tensor([[0.0, 0.0]]), config)
    assert patch[0, 0, 4, 4].item() == pytest.approx(0.5, abs=0.01)
    left = matte_patches(ramp, torch.tensor([[0.0, -0.5]]), config)
    assert left[0, 0, 4, 4].item() == pytest.approx(0.25, abs=0.01)


def test_gradient_moves_the_mean_toward_the_rewarded_sample():
    mean = torch.zeros(1, 2, requires_grad=True)
    policy = build_policy(TINY)
    samples = torch.tensor([[[0.3, 0.0]], [[-0.3, 0.0]]])  # S = 2 samples, batch 1
    log_probs = torch.stack([policy.log_prob(samples[j], mean) for j in range(2)])
    rewards = torch.tensor([[1.0], [-0.5]])
    loss, _ = reinforce_loss(log_probs, rewards, torch.zeros(2, 1), torch.ones(2, 1), episodes=1)
    loss.backward()
    # gradient descent moves the mean toward +y, the sample with the higher reward
    assert mean.grad[0, 0] < 0 and mean.grad[0, 1] == 0
    # a masked (skipped) sample contributes nothing
    mean.grad = None
    log_probs = torch.stack([policy.log_prob(samples[j], mean) for j in range(2)])
    loss, _ = reinforce_loss(log_probs, rewards, torch.zeros(2, 1), torch.tensor([[0.0], [0.0]]), 1)
    loss.backward()
    assert torch.all(mean.grad == 0)


class ToyEnvironment:
    """One-step toy: the error after a region is its centre's distance to a known best location."""

    shape = (64, 64)
    region_size = 4

    def __init__(self, target):
        self.target = np.asarray(target)
        self.matte = np.zeros(self.shape)
        self.trimap = np.full(self.shape, 0.5)

    def reset(self):
        self.rmse = 2.0

    def propose(self, location):
        top, left = corner_for(location, self.shape, self.region_size)
        span = self.shape[0] - self.region_size
        where = np.array([2 * top / span - 1, 2 * left / span - 1])
        error = float(np.linalg.norm(where - self.target))
        return Step(top, left, self.region_size, "bg", self.matte, self.trimap, error)

    def commit(self, step):
        self.rmse = step.rmse


def test_policy_learns_to_move_toward_the_best_region():
    torch.manual_seed(0)
    policy = build_policy(TINY)
    target = (0.5, -0.5)
    images = policy.image_tensor(np.full((8, 32, 32, 3), 0.5))
    envs = [ToyEnvironment(target) for _ in range(8)]
    optimiser = torch.optim.Adam(policy.parameters(), lr=0.03)

    def distance():
        with torch.no_grad():
            mean, _ = policy.head(policy.begin(images[:1]))
        return float(np.linalg.norm(mean[0].numpy() - target))

    before = distance()
    generator = torch.Generator().manual_seed(0)
    for _ in range(80):
        loss, stats = run_episodes(policy, envs, images, steps=1, samples=2, generator=generator)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = distance()
    assert before > 0.6
    assert after < 0.2, (before, after)


def test_learning_rate_decays_exponentially_from_1e3_to_1e4():
    config = TrainConfig(updates=100)
    assert learning_rate(0, config) == pytest.approx(1e-3)
    assert learning_rate(50, config) == pytest.approx(1e-3 * 0.1**0.5)
    assert learning_rate(100, config) == pytest.approx(1e-4)
    assert learning_rate(500, config) == pytest.approx(1e-4)


GRID = PolicyConfig(name="tiny-grid", image_size=32, feature_blocks=((4, 1), (8, 1)), feature_pool=2,
                    feature_dim=16, hidden_size=16, patch_size=8, patch_blocks=((4, 1),),
                    location_head="grid", grid=8, grid_channels=8)


def test_grid_cells_tile_the_image_by_regions():
    from mattebox.active.policy import cell_locations, location_cells

    cells = torch.arange(400)
    assert torch.equal(location_cells(cell_locations(cells, 20), 20), cells)
    corners = {corner_for(loc, (400, 400), 20) for loc in cell_locations(cells, 20).tolist()}
    assert corners == {(20 * r, 20 * c) for r in range(20) for c in range(20)}


def test_grid_head_never_asks_the_same_cell_twice():
    from mattebox.active.environment import ActiveEnvironment
    from mattebox.active.policy import LearnedStrategy

    torch.manual_seed(0)
    policy = build_policy(GRID).eval()
    image = np.random.default_rng(0).random((40, 40, 3))
    env = ActiveEnvironment(image, solver=lambda i, t: np.where(t == 0.5, 0.5, t), region_size=5)
    strategy = LearnedStrategy(policy)
    strategy.reset(image)
    corners = []
    for _ in range(GRID.grid * GRID.grid):
        top, left = strategy.suggest(env)
        step = env.try_answer(top, left, "bg")
        env.commit(step)
        strategy.observe(env, step)
        corners.append((top, left))
    assert len(set(corners)) == len(corners)  # every cell once, then the grid is exhausted


def test_candidates_are_asked_first_then_every_other_cell():
    from dataclasses import replace

    from mattebox.active.environment import ActiveEnvironment
    from mattebox.active.policy import LearnedStrategy, cluster_cue, location_cells
    from mattebox.errors import InputError

    torch.manual_seed(0)
    config = replace(GRID, candidates=5)
    policy = build_policy(config).eval()
    torch.nn.init.normal_(policy.locate.out.weight, std=0.5)  # a policy with opinions
    image = np.random.default_rng(1).random((40, 40, 3))
    env = ActiveEnvironment(image, solver=lambda i, t: np.where(t == 0.5, 0.5, t), region_size=5)
    strategy = LearnedStrategy(policy)
    strategy.reset(image)
    expected = set(torch.nonzero(cluster_cue(strategy.state.colours, 5).flatten() > 0).flatten().tolist())
    assert 2 <= len(expected) <= 5
    cells = []
    for _ in range(len(expected) + 3):
        top, left = strategy.suggest(env)
        step = env.try_answer(top, left, "bg")
        env.commit(step)
        strategy.observe(env, step)
        cells.append(int(location_cells(torch.tensor(strategy_location(env, top, left)), GRID.grid)))
    assert set(cells[:len(expected)]) == expected  # the cluster cells first
    assert len(set(cells)) == len(cells)  # then other cells, none twice
    unrestricted = LearnedStrategy(build_policy(GRID).eval())
    unrestricted.policy.load_state_dict(policy.state_dict())
    unrestricted.reset(image)
    assert unrestricted.candidates is None
    for bad in (-1, [10, 5], [0, 5], [5, 5], "5", True, [2.5]):
        with pytest.raises(InputError, match="candidates"):
            PolicyConfig.from_dict({"candidates": bad})
    assert PolicyConfig.from_dict({"candidates": 20}).candidates == (20,)
    assert PolicyConfig.from_dict({"candidates": [5, 10, 20]}).candidates == (5, 10, 20)
    assert PolicyConfig.from_dict({"candidates": 0}).candidates == ()


def test_candidate_levels_go_coarse_to_fine_past_covered_clusters():
    from mattebox.active.policy import RECORD, CandidateLevels, cell_clusters

    torch.manual_seed(3)
    colours = torch.rand(1, 3, 6, 6)
    levels = CandidateLevels.of(colours, (3, 8))
    member3, nearest3, _ = cell_clusters(colours, 3)
    member8, nearest8, _ = cell_clusters(colours, 8)
    record = torch.zeros(1, RECORD, 36)
    first = levels.open_cells(record)[0]
    assert set(torch.nonzero(first).flatten().tolist()) == set(nearest3[0].tolist())
    # A cell answered anywhere covers its cluster: that cluster's candidate is no longer asked.
    other = next(c for c in range(36) if c not in nearest3[0].tolist())
    record[0, 0, other] = record[0, 1, other] = 1.0
    covered = int(member3[0, other])
    left = set(torch.nonzero(levels.open_cells(record)[0]).flatten().tolist())
    assert left == set(nearest3[0].tolist()) - {int(nearest3[0, covered])}
    # Level 3 used up (one candidate skipped: asked, not answered): level 8's candidates of
    # clusters no answer touched.
    for c in left:
        record[0, 0, c] = 1.0
    skipped = min(left)
    for c in left - {skipped}:
        record[0, 2, c] = 1.0
    answered = torch.nonzero(record[0, 1] + record[0, 2]).flatten()
    touched = set(member8[0, answered].tolist())
    expected = {int(nearest8[0, j]) for j in range(8) if j not in touched} - set(
        torch.nonzero(record[0, 0]).flatten().tolist())
    assert expected  # the case is not vacuous
    sizes = levels.open_sizes(record)[0]
    assert set(torch.nonzero(sizes).flatten().tolist()) == expected
    # Every level used up: no candidates, the policy may take any cell; in a batch, only the
    # image whose levels are used up gets every cell.
    both = CandidateLevels.of(colours.expand(2, -1, -1, -1), (3, 8))
    pair = torch.cat([record, torch.zeros(1, RECORD, 36)])
    pair[0, 0] = 1.0
    pair[0, 1] = 1.0
    cells = both.open_cells(pair)
    assert bool(cells[0].all()) and set(torch.nonzero(cells[1]).flatten().tolist()) == set(nearest3[0].tolist())
    assert levels.open_cells(pair[:1]) is None
    assert CandidateLevels.of(colours, ()).open_cells(torch.zeros(1, RECORD, 36)) is None


def test_candidate_retry_offers_a_skipped_clusters_next_cell():
    from mattebox.active.policy import RECORD, CandidateLevels, PolicyConfig, cell_clusters
    from mattebox.errors import InputError

    torch.manual_seed(5)
    colours = torch.rand(1, 3, 6, 6)
    member, nearest, sizes, order = cell_clusters(colours, 4, with_order=True)
    plain, retry = CandidateLevels.of(colours, (4,)), CandidateLevels.of(colours, (4,), retry=True)
    record = torch.zeros(1, RECORD, 36)
    # Before any skip the two rules offer the same cells.
    assert torch.equal(plain.open_sizes(record), retry.open_sizes(record))
    # Skip the candidate of the biggest cluster with more than one member.
    big = max((j for j in range(4) if int((member[0] == j).sum()) > 1), key=lambda j: int(sizes[0, j]))
    cell = int(nearest[0, big])
    record[0, 0, cell] = 1.0
    assert not bool(plain.open_cells(record)[0, member[0] == big].any())  # dropped out
    offered = torch.nonzero(retry.open_sizes(record)[0]).flatten().tolist()
    mates = [c for c in range(36) if int(member[0, c]) == big and c != cell]
    expected_next = min(mates, key=lambda c: float(order[0, c]))
    assert expected_next in offered
    assert float(retry.open_sizes(record)[0, expected_next]) == float(sizes[0, big])
    # Answering that cell covers the cluster: nothing of it is offered any more.
    record[0, 0, expected_next] = record[0, 1, expected_next] = 1.0
    again = retry.open_cells(record)[0]
    assert not bool(again[member[0] == big].any())
    assert PolicyConfig.from_dict({"candidate_retry": True}).candidate_retry is True
    with pytest.raises(InputError, match="candidate_retry"):
        PolicyConfig.from_dict({"candidate_retry": 1})


def strategy_location(env, top, left):
    from mattebox.active.environment import location_for

    return location_for(top, left, env.shape, env.region_size)


def test_colour_cues_point_away_from_the_answered_layer():
    from mattebox.active.policy import colour_cues

    grid = 4
    colours = torch.zeros(1, 3, grid, grid)
    colours[0, :, 1, 2] = 3.0  # one cell unlike the rest
    record = torch.zeros(1, 3, grid * grid)
    cues = colour_cues(colours, record)
    assert cues.shape == (1, 4, grid, grid)
    assert torch.all(cues[0, :3] == 0)  # nothing asked: no colour cue yet
    assert cues[0, 3, 0, 0] == pytest.approx(1.0) and cues[0, 3].min() < 0.5  # corners far
    record[0, 0, 0] = record[0, 2, 0] = 1.0  # cell 0 asked and answered bg
    cues = colour_cues(colours, record)
    # look for the foreground where the colour differs from the background answer
    assert cues[0, 0].argmax().item() == 1 * grid + 2
    assert cues[0, 0, 1, 2] == pytest.approx(np.tanh(np.sqrt(27.0) / 2.0), rel=1e-5)
    assert torch.all(cues[0, 1] == 0)  # no fg answer: nothing to measure from
    assert torch.equal(cues[0, 2], cues[0, 0])  # the only answer so far is bg
    record[0, 0, 6] = record[0, 1, 6] = 1.0  # cell (1, 2) answered fg
    cues = colour_cues(colours, record)
    assert torch.all(cues[0, 0] == 0) and torch.all(cues[0, 1] == 0)  # both layers found
    assert cues[0, 2, 1, 2] == 0 and cues[0, 2, 0, 0] == 0 and cues[0, 2, 3, 3] == 0


def test_grid_head_with_colour_cues_runs_and_clones():
    from dataclasses import replace

    from mattebox.active.imitation import clone

    torch.manual_seed(0)
    policy = build_policy(replace(GRID, colour_cues=True))
    images = np.random.default_rng(1).random((4, 32, 32, 3)).astype(np.float32)
    cells = torch.tensor([9, 9, 53, 53])
    from mattebox.active.policy import cell_locations

    targets = cell_locations(cells, 8).numpy()[:, None, :].repeat(2, axis=1)
    data = {"images": images, "locations": targets, "mattes": np.full((4, 2, 32, 32), 0.5, np.float16)}
    losses = clone(policy, data, epochs=30, batch=4, lr=3e-3, log=lambda _: None)
    assert losses[-1] < losses[0]


def test_cluster_cue_marks_one_cell_per_cluster_biggest_first():
    from mattebox.active.policy import cluster_cue

    grid = 8
    colours = torch.zeros(1, 3, grid, grid)
    colours[0, 0, :2, :2] = 10.0  # a small patch of a colour of its own
    cue = cluster_cue(colours, clusters=2)
    marked = torch.nonzero(cue[0, 0] > 0).tolist()
    assert len(marked) == 2
    patch = [cell for cell in marked if cell[0] < 2 and cell[1] < 2]
    assert len(patch) == 1  # one cell of the distinct patch is marked
    assert cue[0, 0, patch[0][0], patch[0][1]] == pytest.approx(4 / 60)  # 4 cells against 60
    assert cue.max() == 1.0
    assert torch.equal(cue, cluster_cue(colours, clusters=2))  # deterministic



def test_cell_spread_and_a_spread_weight_move_the_candidate_off_an_edge():
    from mattebox.active.imitation import candidate_corners_map
    from mattebox.errors import InputError
    from mattebox.active.policy import cell_clusters, cell_colours, cell_spread

    # An 8 x 8 grid of 5 x 5 px cells: red left half, blue right half, the colour edge
    # running through the middle of column 3, so that column's cells mix the two colours.
    grid, size = 8, 40
    image = np.zeros((size, size, 3))
    image[:, :18, 0] = 1.0
    image[:, 18:, 2] = 1.0
    spread = cell_spread(image, grid).view(grid, grid)
    assert torch.all(spread[:, 3] > 1.0)  # mixed cells
    assert torch.allclose(spread[:, [0, 1, 2, 4, 5, 6, 7]], torch.zeros(grid, 7), atol=1e-5)
    colours = cell_colours(image, size, grid)
    _, nearest, _ = cell_clusters(colours, 1)
    _, same, _ = cell_clusters(colours, 1, spread.view(1, -1), 0.0)
    assert torch.equal(nearest, same)  # weight 0: the nearest cell, as before
    assert int(nearest[0, 0]) % grid == 3  # the one centroid lies on the edge column
    _, moved, _ = cell_clusters(colours, 1, spread.view(1, -1), 1.0)
    assert int(moved[0, 0]) % grid in (2, 4)  # a pure cell beside it instead
    # The teacher restricted to the candidate cells sees the same cells.
    plain = candidate_corners_map(image, (size, size), 5, 1, size, grid)
    spread_map = candidate_corners_map(image, (size, size), 5, 1, size, grid, 1.0)
    assert np.argwhere(plain)[0, 1] == 15 and np.argwhere(spread_map)[0, 1] in (10, 20)
    assert PolicyConfig.from_dict({"candidate_spread": 0.5}).candidate_spread == 0.5
    assert PolicyConfig.from_dict({"candidate_spread": 1}).candidate_spread == 1.0
    for bad in (-0.5, float("nan"), "1", True):
        with pytest.raises(InputError, match="candidate_spread"):
            PolicyConfig.from_dict({"candidate_spread": bad})


def test_grid_head_with_cluster_cue_runs_and_clones():
    from dataclasses import replace

    from mattebox.active.imitation import clone
    from mattebox.active.policy import cell_locations

    torch.manual_seed(0)
    policy = build_policy(replace(GRID, colour_cues=True, cluster_cue=True))
    images = np.random.default_rng(1).random((4, 32, 32, 3)).astype(np.float32)
    targets = cell_locations(torch.tensor([9, 9, 53, 53]), 8).numpy()[:, None, :].repeat(2, axis=1)
    data = {"images": images, "locations": targets, "mattes": np.full((4, 2, 32, 32), 0.5, np.float16)}
    losses = clone(policy, data, epochs=30, batch=4, lr=3e-3, log=lambda _: None)
    assert losses[-1] < losses[0]


def test_grid_head_gradient_favours_the_rewarded_cell():
    from mattebox.active.policy import cell_locations

    policy = build_policy(GRID)
    logits = torch.zeros(1, 64, requires_grad=True)
    samples = cell_locations(torch.tensor([[10], [50]]), 8)  # S = 2 cells, batch 1
    log_probs = torch.stack([policy.log_prob(samples[j], logits) for j in range(2)])
    loss, _ = reinforce_loss(log_probs, torch.tensor([[1.0], [-0.5]]), torch.zeros(2, 1),
                             torch.ones(2, 1), episodes=1)
    loss.backward()
    assert logits.grad[0, 10] < 0 < logits.grad[0, 50]  # descent raises cell 10, lowers 50


def test_grid_head_clones_a_teacher_that_has_two_answers():
    """The teacher asks about a bright square that sits in one of two places: the grid head
    learns both, where the mean of a regression head would sit between them."""
    from mattebox.active.imitation import clone
    from mattebox.active.policy import cell_locations, location_cells

    torch.manual_seed(0)
    policy = build_policy(GRID)
    images = np.zeros((8, 32, 32, 3), np.float32)
    images[:4, 4:8, 4:8] = 1.0  # cell (1, 1) of the 8 x 8 grid
    images[4:, 24:28, 20:24] = 1.0  # cell (6, 5)
    cells = torch.tensor([9] * 4 + [53] * 4)
    targets = cell_locations(cells, 8).numpy()[:, None, :].repeat(2, axis=1)
    data = {"images": images, "locations": targets, "mattes": np.full((8, 2, 32, 32), 0.5, np.float16)}
    losses = clone(policy, data, epochs=80, batch=8, lr=3e-3, log=lambda _: None)
    assert losses[-1] < losses[0] / 5
    with torch.no_grad():
        output, _ = policy.head(policy.begin(policy.image_tensor(images)))
        picked = location_cells(policy.best_location(output), 8)
    assert picked.tolist() == cells.tolist()


def test_answers_are_read_off_the_matte_when_not_given():
    from mattebox.active.policy import region_answers

    config = PolicyConfig(region_extent=0.2)
    mattes = torch.full((3, 1, 50, 50), 0.5)
    mattes[0, 0, :10, :10] = 1.0  # region at the top-left corner labelled fg
    mattes[1, 0, :10, :10] = 0.0  # ... bg
    corner = torch.tensor([[-1.0, -1.0]] * 3)
    assert region_answers(mattes, corner, config).tolist() == [1.0, -1.0, 0.0]


def test_shipped_policy_config_loads_and_matches_the_shipped_weights():
    from pathlib import Path

    from mattebox.active.policy import load_policy
    from mattebox.active.reinforce import load_run_config

    config = load_run_config(Path(__file__).resolve().parents[1] / "configs" / "active_small.toml")
    assert config.train.samples == 2  # S = 2 in training (Section 2.3)
    assert config.policy == load_policy().config


def test_every_active_config_in_the_repository_loads():
    from pathlib import Path

    from mattebox.active.reinforce import load_run_config

    paths = sorted((Path(__file__).resolve().parents[1] / "configs").glob("active_*.toml"))
    assert len(paths) >= 5
    for path in paths:
        load_run_config(path)
    spread = load_run_config(path.with_name("active_small_spread.toml"))
    assert spread.policy.candidate_spread == 1.0


def test_run_config_rejects_unknown_keys(tmp_path):
    from mattebox.active.reinforce import load_run_config
    from mattebox.errors import InputError

    path = tmp_path / "bad.toml"
    path.write_text("[policy]\nlocation_head = 'spiral'\n")
    with pytest.raises(InputError, match="location_head"):
        load_run_config(path)
    path.write_text("[policy]\ncolour_cues = 'yes'\n")
    with pytest.raises(InputError, match="colour_cues must be true or false"):
        load_run_config(path)
    path.write_text("[train]\nepochs = 3\n")
    with pytest.raises(InputError, match="epochs"):
        load_run_config(path)


def test_dagger_round_records_the_driven_states_and_the_teachers_answers():
    from mattebox.active.imitation import clone, dagger_data

    torch.manual_seed(0)
    policy = build_policy(GRID)
    rng = np.random.default_rng(0)
    images = rng.random((2, 40, 40, 3)).astype(np.float32)
    alphas = np.zeros((2, 40, 40), np.float32)
    alphas[:, 10:30, 10:30] = 1.0
    images[:, 10:30, 10:30] = 0.9  # a bright square on noise
    data = dagger_data(policy, images, alphas, work_size=40, steps=4, solver="sm", candidates=2,
                       log=lambda _: None, explore=0.5, seed=0)
    assert data["locations"].shape == data["targets"].shape == (2, 4, 2)
    assert data["mattes"].shape == (2, 4, 40, 40)
    assert np.all(np.abs(data["targets"]) <= 1.0)
    assert not np.array_equal(data["locations"], data["targets"])  # the teacher disagrees somewhere
    losses = clone(policy, data, epochs=2, batch=2, log=lambda _: None)  # the data clones
    assert all(np.isfinite(losses))


def test_cached_teacher_sequences_are_keyed_by_the_solver_revision(tmp_path, monkeypatch):
    # Sequences solved by an older version of a solver must not be reused for a newer one.
    import dataclasses

    from mattebox import registry
    from mattebox.active.imitation import teacher_data

    rng = np.random.default_rng(1)
    images = rng.random((1, 40, 40, 3)).astype(np.float32)
    alphas = np.zeros((1, 40, 40), np.float32)
    alphas[:, 10:30, 10:30] = 1.0
    images[:, 10:30, 10:30] = 0.9
    settings = dict(work_size=40, steps=1, solver="sm", candidates=2, cache_dir=tmp_path,
                    log=lambda _: None)
    teacher_data(images, alphas, **settings)
    teacher_data(images, alphas, **settings)  # the same version: read back
    assert len(list(tmp_path.glob("teacher_*.npz"))) == 1
    spec = registry.get_method("sm")
    monkeypatch.setitem(registry._METHODS, "sm", dataclasses.replace(spec, revision=spec.revision + 1))
    teacher_data(images, alphas, **settings)
    assert len(list(tmp_path.glob("teacher_*.npz"))) == 2


def test_unreadable_weights_files_are_refused_clearly(tmp_path):
    from mattebox.active.baselines import load_region_cnn
    from mattebox.active.policy import load_policy
    from mattebox.errors import InputError

    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable active-matting policy file"):
        load_policy(junk)
    with pytest.raises(InputError, match="not a readable Region-CNN weights file"):
        load_region_cnn(5, junk)
    other = tmp_path / "other.pt"
    torch.save({"something": 1}, other)
    with pytest.raises(InputError, match="no nets inside"):
        load_region_cnn(5, other)


def test_solid_scenes_keeps_scenes_with_opaque_and_clear_regions():
    from mattebox.active.reinforce import solid_scenes

    alphas = np.zeros((3, 100, 100), np.float32)  # 5 x 5 regions at 100 px
    alphas[0, 20:60, 20:60] = 1.0  # 64 opaque regions, the rest clear
    alphas[1, 20:60, 20:60] = 0.7  # a veil: no opaque region
    alphas[2, 21:31, 20:30] = 1.0  # opaque pixels, but only 2 whole opaque regions
    assert solid_scenes(alphas, 5).tolist() == [True, False, False]
    assert solid_scenes(alphas, 2).tolist() == [True, False, True]
