"""GANTrainer, the WGAN-GP gradient penalty (checked against PyTorch), sample grids and mode coverage."""

import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet import nn
from glassnet.data import mode_coverage, ring_centers, ring_of_gaussians
from glassnet.models import GAN, MLPDiscriminator, MLPGenerator
from glassnet.train import GANSampleGrid, GANTrainer, RunDir, gradient_penalty
from glassnet.train.gan import tile_images


def _disc_pair(dtype):
    gn.manual_seed(0)
    g = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    t = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in g.state_dict().items()})
    if dtype == np.float64:
        g = g.double()
        t = t.double()
    return g, t


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_gradient_penalty_and_its_second_order_gradient_match_torch(dtype, tol):
    g, t = _disc_pair(dtype)
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(5, 3)).astype(dtype), rng.normal(size=(5, 3)).astype(dtype)
    eps = rng.random((5, 1)).astype(dtype)
    penalty = gradient_penalty(g, gn.tensor(real), gn.tensor(fake), eps=gn.tensor(eps))
    penalty.backward()

    mixed = (torch.tensor(eps) * torch.tensor(real) + (1 - torch.tensor(eps)) * torch.tensor(fake)).requires_grad_()
    (grad,) = torch.autograd.grad(t(mixed).sum(), mixed, create_graph=True)
    ref = ((torch.sqrt(grad.pow(2).sum(1) + 1e-12) - 1) ** 2).mean()
    ref.backward()
    np.testing.assert_allclose(penalty.item(), ref.item(), rtol=tol, atol=tol)
    for (name, p), tp in zip(g.named_parameters(), t.parameters()):
        if tp.grad is None:  # the last bias does not change ∇ₓD, so the penalty does not reach it
            assert p.grad is None or not np.any(p.grad.numpy()), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=tol, atol=tol, err_msg=name)


def test_gradient_penalty_rejects_mismatched_shapes():
    g, _ = _disc_pair(np.float32)
    with pytest.raises(ValueError, match=r"gradient_penalty.*\(4, 3\).*\(5, 3\)"):
        gradient_penalty(g, gn.zeros(4, 3), gn.zeros(5, 3))


def _ring_gan():
    gn.manual_seed(3)
    gan = GAN(MLPGenerator(latent_dim=8, hidden=64), MLPDiscriminator(hidden=64))
    opt_g = gn.optim.Adam(gan.generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = gn.optim.Adam(gan.discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    return gan, opt_g, opt_d


def _loader(n=2048, batch=128, seed=0):
    """Shuffled by the default generator, whose state checkpoints save and restore."""
    data = gn.tensor(ring_of_gaussians(n, std=0.05, seed=seed).astype(np.float32))
    return gn.data.DataLoader(gn.data.TensorDataset(data), batch_size=batch, shuffle=True)


def test_gan_trainer_logs_both_players_and_each_optimizer_moves_only_its_player():
    gan, opt_g, opt_d = _ring_gan()
    opt_g.param_groups[0]["lr"] = 0.0  # G frozen by its learning rate: only D may change
    g_before = {k: v.numpy().copy() for k, v in gan.generator.state_dict().items()}
    d_before = {k: v.numpy().copy() for k, v in gan.discriminator.state_dict().items()}
    history = GANTrainer(gan, opt_g, opt_d).fit(_loader(512), epochs=1)
    assert {"d_loss", "g_loss", "loss"} <= set(history.keys())
    assert all(np.array_equal(v.numpy(), g_before[k]) for k, v in gan.generator.state_dict().items())
    assert any(not np.array_equal(v.numpy(), d_before[k]) for k, v in gan.discriminator.state_dict().items())


def test_gan_trainer_learns_the_ring_better_than_its_untrained_generator():
    gn.manual_seed(3)
    gan = GAN(MLPGenerator(latent_dim=16, hidden=128), MLPDiscriminator(hidden=128))
    opt_g = gn.optim.Adam(gan.generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = gn.optim.Adam(gan.discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    data = gn.tensor(ring_of_gaussians(128 * 500, std=0.02, seed=0).astype(np.float32))
    loader = gn.data.DataLoader(gn.data.TensorDataset(data), batch_size=128, shuffle=True,
                                generator=gn.Generator(0))
    centers = ring_centers(8)
    before = mode_coverage(gan.sample(1000, generator=gn.Generator(5)).numpy(), centers, 0.02)
    GANTrainer(gan, opt_g, opt_d).fit(loader, epochs=3)  # 1,500 alternating steps (~3 s)
    after = mode_coverage(gan.sample(1000, generator=gn.Generator(5)).numpy(), centers, 0.02)
    assert after[0] >= 5 and after[1] > before[1] + 0.15, (before, after)


def test_wgan_gp_trains_with_several_critic_steps_and_logs_the_penalty():
    gan, opt_g, opt_d = _ring_gan()
    trainer = GANTrainer(gan, opt_g, opt_d, loss="wgan-gp", d_steps=3, gp_weight=10.0)
    history = trainer.fit(_loader(512), epochs=1)
    assert np.isfinite(history["gp"][-1]) and history["gp"][-1] >= 0
    assert np.isfinite(history["d_loss"][-1]) and np.isfinite(history["g_loss"][-1])


def test_sample_grid_writes_arrays_and_pngs_into_the_run_folder(tmp_path):
    gan, opt_g, opt_d = _ring_gan()
    grid = GANSampleGrid(n=100, every=1)
    trainer = GANTrainer(gan, opt_g, opt_d, callbacks=[grid], run_dir=RunDir(tmp_path, "gan"))
    trainer.fit(_loader(256), epochs=2)
    assert sorted(grid.samples) == [0, 1]
    arrays = sorted((tmp_path / "gan" / "artefacts").glob("samples-epoch*.npy"))
    assert [p.name for p in arrays] == ["samples-epoch000.npy", "samples-epoch001.npy"]
    np.testing.assert_array_equal(np.load(arrays[1], allow_pickle=False), grid.samples[1])
    pngs = list((tmp_path / "gan" / "artefacts").glob("*.png"))
    if pngs:  # matplotlib installed
        assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gan_trainer_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path):
    def run(epochs, resume=None, name="a"):
        gan, opt_g, opt_d = _ring_gan()
        trainer = GANTrainer(gan, opt_g, opt_d, run_dir=RunDir(tmp_path, name))
        trainer.fit(_loader(512), epochs=epochs, resume_from=resume)
        return gan

    full = run(2, name="full")
    run(1, name="part")
    resumed = run(2, resume=tmp_path / "part", name="part")
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_gan_trainer_bad_arguments_are_named():
    gan, opt_g, opt_d = _ring_gan()
    with pytest.raises(ValueError, match="GANTrainer: loss must be one of"):
        GANTrainer(gan, opt_g, opt_d, loss="hinge")
    with pytest.raises(ValueError, match="d_steps"):
        GANTrainer(gan, opt_g, opt_d, d_steps=0)
    with pytest.raises(TypeError, match="GANTrainer: expected a glassnet.models.GAN"):
        GANTrainer(nn.Linear(2, 2), opt_g, opt_d)


def test_mode_coverage_counts_modes_and_close_samples():
    centers = ring_centers(4)
    points = np.concatenate([centers[:3] + 0.01, [[10.0, 10.0]]])
    modes, frac, per_mode = mode_coverage(points, centers, std=0.05)
    assert (modes, frac, per_mode) == (3, 0.75, [1, 1, 1, 0])
    with pytest.raises(ValueError, match="mode_coverage"):
        mode_coverage(np.zeros((0, 2)), centers, 0.1)


def test_tile_images_lays_out_a_grid():
    grid = tile_images(np.random.default_rng(0).normal(size=(10, 1, 4, 5)), nrow=4, pad=1)
    assert grid.shape == (3 * 5 + 1, 4 * 6 + 1)
    assert grid.min() >= 0 and grid.max() <= 1
    with pytest.raises(ValueError, match="tile_images"):
        tile_images(np.zeros((3, 4)))


def test_generator_ema_averages_the_weights_and_swaps_them_in_and_out():
    from glassnet.train import GeneratorEMA

    gan, opt_g, opt_d = _ring_gan()
    start = {k: p.data.copy() for k, p in gan.generator.named_parameters()}
    ema = GeneratorEMA(decay=0.9)
    GANTrainer(gan, opt_g, opt_d, callbacks=[ema]).fit(_loader(512), epochs=1)  # 4 batches
    trained = {k: p.data.copy() for k, p in gan.generator.named_parameters()}
    k = "net.0.weight"
    assert not np.allclose(ema.average[k], trained[k])
    # after n updates the average is 0.9ⁿ·start + (1 − 0.9ⁿ)·(a mix of the iterates): nearer the start than θ is
    assert np.abs(ema.average[k] - start[k]).mean() < np.abs(trained[k] - start[k]).mean()
    with ema.applied():
        np.testing.assert_array_equal(gan.generator.net[0].weight.data, ema.average[k])
    np.testing.assert_array_equal(gan.generator.net[0].weight.data, trained[k])
    restored = GeneratorEMA(0.5)
    restored.load_state_dict(ema.state_dict())
    assert restored.decay == 0.9 and np.array_equal(restored.average[k], ema.average[k])
    with pytest.raises(ValueError, match="GeneratorEMA: decay"):
        GeneratorEMA(1.0)
